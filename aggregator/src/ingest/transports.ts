// The aggregator's ingest transports behind one shape (IngestTransport), with their logging.
import type { Logger } from "pino";
import type { IngestTransport } from "../aggregator.js";
import { GrpcIngest, type GrpcIngestOptions } from "./grpc.js";
import { NatsIngest, type NatsIngestOptions } from "./nats.js";
import type { BatchSink } from "./sink.js";

export function grpcTransport(
  options: GrpcIngestOptions,
  sink: BatchSink,
  logger: Logger,
): IngestTransport & { ingest: GrpcIngest } {
  const ingest = new GrpcIngest(options, sink);
  const log = logger.child({ transport: "grpc" });
  return {
    name: "grpc",
    ingest,
    async start() {
      const port = await ingest.start();
      log.info(
        {
          listen: options.listen,
          port,
          tls: Boolean(options.tls),
          mtls: Boolean(options.tls?.clientCaFile),
          tokens: options.tokens?.length ?? 0,
        },
        "gRPC ingest listening",
      );
    },
    async stop(graceMs) {
      await ingest.stop(graceMs);
      const s = ingest.stats();
      log.info({ batches: s.batchesReceived, flows: s.flowsReceived, refused: s.refused }, "gRPC ingest stopped");
    },
    metricRows: () => ingest.metricRows(),
  };
}

export function natsTransport(
  options: NatsIngestOptions,
  sink: BatchSink,
  logger: Logger,
): IngestTransport & { ingest: NatsIngest } {
  const ingest = new NatsIngest(options, sink);
  const log = logger.child({ transport: "nats" });
  return {
    name: "nats",
    ingest,
    async start() {
      await ingest.start();
      log.info(
        { servers: options.servers, stream: options.stream?.name, durable: options.durable },
        "NATS ingest consuming",
      );
    },
    async stop(graceMs) {
      await ingest.stop(graceMs);
      const s = ingest.stats();
      log.info({ batches: s.batches, flows: s.flows, duplicates: s.duplicates }, "NATS ingest stopped");
    },
    metricRows: () => ingest.metricRows(),
  };
}
