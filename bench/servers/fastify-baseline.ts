import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { serveBench } from '../support/server-process.js';

// The floor for /v1/track: Fastify parses the JSON body and answers 200, storing nothing.
const app = Fastify();
app.post('/v1/track', async () => ({ success: true }));
await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as AddressInfo;

serveBench({ port }, async () => null, () => app.close());
