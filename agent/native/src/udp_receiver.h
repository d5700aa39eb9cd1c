#ifndef FL_UDP_RECEIVER_H
#define FL_UDP_RECEIVER_H
#include <node_api.h>

/* udpReceiver(options, onBatch): a UDP socket read with recvmmsg() on the event loop. */
napi_value fl_napi_udp_receiver(napi_env env, napi_callback_info info);

#endif
