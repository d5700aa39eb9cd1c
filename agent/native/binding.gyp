{
  "targets": [
    {
      "target_name": "flowlens_native",
      "sources": [
        "src/addon.c",
        "src/batch.c",
        "src/byte_copy.c",
        "src/community_id.c",
        "src/decode.c",
        "src/dpi.c",
        "src/flow_batch.c",
        "src/flow_batch_napi.c",
        "src/collector_decode.c",
        "src/collector_decode_napi.c",
        "src/flow_encode.c",
        "src/flow_encode_napi.c",
        "src/flowtable.c",
        "src/header_napi.c",
        "src/header_out.c",
        "src/host_resolve.c",
        "src/huge_buffer.c",
        "src/live.c",
        "src/ndjson.c",
        "src/source_afpacket.c",
        "src/source_pcap.c",
        "src/udp_receiver.c"
      ],
      "include_dirs": ["/usr/include/ndpi"],
      "libraries": ["-lndpi", "-lpcap", "-lpthread"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
