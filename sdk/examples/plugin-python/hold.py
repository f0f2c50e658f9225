#!/usr/bin/env python3
"""A scalelab policy plugin in Python: it always holds (the middle index of replica_delta).

It speaks the go-plugin handshake and serves scalelab.policy.v1.Policy (docs/policy-abi.md,
"Out-of-process plugins"). Generate the stubs next to this file first:

    python3 -m grpc_tools.protoc -I ../../proto --python_out=. --grpc_python_out=. policy/v1/policy.proto

and name the script in a config: {type: plugin, command: path/to/hold.py}.
"""
import os
import sys
import threading
from concurrent import futures

import grpc
from policy.v1 import policy_pb2 as pb, policy_pb2_grpc as rpc  # generated from policy.proto

COOKIE_KEY, COOKIE_VALUE = "SCALELAB_POLICY_PLUGIN", "d6c1f3a0-scalelab-policy-v1"
done = threading.Event()


class Hold(rpc.PolicyServicer):
    """Holds the replica count: replica_delta's middle index, or the current replicas."""

    def Init(self, req, ctx):
        if req.action.kind != "discrete":
            ctx.abort(grpc.StatusCode.UNIMPLEMENTED, "hold.py needs a discrete action space")
        self.hold = float(req.action.n // 2)
        # One JSON object per line in hclog's format keeps its level in scalelab's log.
        print('{"@level":"info","@message":"hold.py initialised","features":%d}' % len(req.features),
              file=sys.stderr, flush=True)
        return pb.InitResponse(name="hold.py")

    def Act(self, req, ctx):
        return pb.ActResponse(action=[self.hold])

    def Observe(self, req, ctx):
        return pb.ObserveResponse()

    def Reset(self, req, ctx):
        return pb.ResetResponse()

    def Close(self, req, ctx):
        done.set()
        return pb.CloseResponse()


def main():
    if os.environ.get(COOKIE_KEY) != COOKIE_VALUE:
        sys.exit("hold.py is a scalelab policy plugin: scalelab starts it")
    sock = os.path.join(os.environ["PLUGIN_UNIX_SOCKET_DIR"], "plugin%d" % os.getpid())
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    rpc.add_PolicyServicer_to_server(Hold(), server)
    server.add_insecure_port("unix:" + sock)
    server.start()
    print("1|1|unix|%s|grpc|" % sock, flush=True)  # the go-plugin handshake line
    done.wait()
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
