// Checks switchboard.d.ts, the types applications see, against the code: `npm run typecheck`
// (tsc, part of `npm test`) fails when they disagree. `../switchboard.js` resolves to the
// declarations; `../src/index.js`, what switchboard.js re-exports, to the modules and their
// JSDoc types.
import * as declared from '../switchboard.js';
import * as code from '../src/index.js';

// Every declared export exists, and what the code exports is what the declarations promise:
// the same constructors, methods, properties and functions, with compatible types. (Rooms are
// made by the client only: their declared constructor is private, checked below by instance.)
export const exported: Omit<typeof declared, 'Room'> = code;
export const roomClass: { prototype: declared.Room } = code.Room;

// Nothing is exported that the declarations do not describe.
type Undeclared = Exclude<keyof typeof code, keyof typeof declared>;
export const undeclared: [Undeclared] extends [never] ? true : Undeclared = true;

// Instances, both ways where the declarations have no private parts.
declare const client: code.Switchboard;
declare const room: code.Room;
declare const error: code.SwitchboardError;
export const declaredClient: declared.Switchboard = client;
export const declaredRoom: declared.Room = room;
export const declaredError: declared.SwitchboardError = error;
