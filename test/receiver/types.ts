/** One answer the test receiver gives to a delivery. */
export interface SinkBehaviour {
  status: number;
  /** Wait this long before answering (to trip the consumer's timeout). */
  hangMs?: number;
  retryAfter?: number | string;
  location?: string;
  body?: string;
  /** Drop the connection without answering (a receiver crashing mid-request); recorded as status 0. */
  reset?: boolean;
}

export interface SinkConfig {
  /** Secrets (whsec_...) each delivery is verified against, independently. */
  secrets: string[];
  /** Answers for the first deliveries, in order; then `fallback` (default 200). */
  script?: SinkBehaviour[];
  fallback?: SinkBehaviour;
  /** Until this time (epoch ms) every delivery gets `down` (default 503) instead: an outage. */
  downUntil?: number;
  down?: SinkBehaviour;
}

export interface ReceivedDelivery {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** For each configured secret: did standardwebhooks verify the delivery with it? */
  verifiedBy: boolean[];
  answered: number;
  receivedAt: number;
}
