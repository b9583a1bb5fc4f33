// Switchboard client: ES modules with no dependencies and no build step, for browsers and
// Node >= 18. This is the entry point; the modules are in src/ (README.md beside this file
// describes them), the API is typed in switchboard.d.ts, and the wire protocol it speaks is
// protocol/PROTOCOL.md.
//
//   const client = new Switchboard('wss://chat.example.com/ws', { getToken });
//   const room = client.subscribe('chat:lobby', { presence: true });
//   room.on('message', ({ data, from }) => …);
//   client.connect();
//   await room.publish({ text: 'hello' });

export * from './src/index.js';
export { default } from './src/index.js';
