// The public API of the client, as switchboard.js exports it (and switchboard.d.ts types it).

import { Switchboard } from './client.js';

export { Switchboard };
export { SwitchboardError } from './errors.js';
export { Room } from './room.js';
export { backoffDelay } from './timing.js';
export { admissionUrl, connectionUrl, sseUrls } from './urls.js';
export { EventStreamParser } from './event-stream-parser.js';

export default Switchboard;
