/** One answer the test receiver gives to a delivery. */
export interface SinkBehaviour {
  status: number;
  /** Wait this long before answering (to trip the consumer's timeout). */
  hangMs?: number;
  retryAfter?: number | string;
  location?: string;
  body?: string;
}

export interface SinkConfig {
  /** Secrets (whsec_...) each delivery is verified against, independently. */
  secrets: string[];
  /** Answers for the first deliveries, in order; then `fallback` (default 200). */
  script?: SinkBehaviour[];
  fallback?: SinkBehaviour;
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
