import { randomBytes } from 'node:crypto';

/**
 * Request bodies with a unique messageId on every event, built from a template so that generating them
 * costs the load generator little. Shaped like what analytics-node (batch) and analytics.js (track) send.
 */
const PLACEHOLDER = '%%';

function trackEvent(): Record<string, unknown> {
  return {
    type: 'track',
    event: 'Order Completed',
    userId: `user-${PLACEHOLDER}`,
    messageId: PLACEHOLDER,
    timestamp: PLACEHOLDER,
    properties: { orderId: `order-${PLACEHOLDER}`, revenue: 42.5, currency: 'EUR', products: [{ sku: 'SKU-1', name: 'Blue mug', price: 21.25, quantity: 2 }] },
    context: {
      library: { name: 'analytics.js', version: 'next-1.84.3' },
      page: { path: '/checkout', url: 'https://shop.example/checkout', title: 'Checkout' },
      userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    },
  };
}

/** `next()` returns a fresh body; `events` is how many events each body holds. */
export interface Workload {
  path: string;
  events: number;
  next(): string;
}

/** `/v1/batch` with `size` track events, each with its own messageId. */
export function batchWorkload(size: number): Workload {
  const tag = randomBytes(4).toString('hex');
  const event = JSON.stringify(trackEvent()).split(PLACEHOLDER);
  let n = 0;
  return {
    path: '/v1/batch',
    events: size,
    next() {
      const now = new Date().toISOString();
      let body = '{"batch":[';
      for (let i = 0; i < size; i++) {
        const id = `${tag}-${n++}`;
        body += (i > 0 ? ',' : '') + event[0] + id + event[1] + id + event[2] + now + event[3] + id + event[4];
      }
      return body + `],"sentAt":"${now}"}`;
    },
  };
}

/** `/v1/track` with one event. */
export function trackWorkload(): Workload {
  const tag = randomBytes(4).toString('hex');
  const event = JSON.stringify({ ...trackEvent(), type: undefined, sentAt: PLACEHOLDER }).split(PLACEHOLDER);
  let n = 0;
  return {
    path: '/v1/track',
    events: 1,
    next() {
      const now = new Date().toISOString();
      const id = `${tag}-${n++}`;
      return event[0] + id + event[1] + id + event[2] + now + event[3] + id + event[4] + now + event[5];
    },
  };
}
