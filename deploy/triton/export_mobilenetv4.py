#!/usr/bin/env python3
"""Export MobileNetV4-Conv-Medium from timm to ONNX for Triton.

Writes <repository>/mobilenetv4/1/model.onnx with a dynamic batch dimension, input
"input" (FP32, N×3×224×224, ImageNet-normalised) and output "output" (FP32, N×1000
logits) — the names and shapes deploy/triton/model-repository/mobilenetv4/config.pbtxt
declares. Run once on the workstation:

    python3 -m venv .venv && . .venv/bin/activate
    pip install torch timm onnx
    python3 deploy/triton/export_mobilenetv4.py deploy/triton/model-repository

The file is not committed (about 38 MB); docs/real-cluster.md explains the steps.
"""

import argparse
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", help="Triton model repository directory")
    parser.add_argument("--model", default="mobilenetv4_conv_medium.e500_r224_in1k",
                        help="timm model name (default: %(default)s)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default: %(default)s)")
    args = parser.parse_args()

    import torch  # imported here so that --help works without PyTorch
    import timm

    model = timm.create_model(args.model, pretrained=True).eval()
    cfg = model.pretrained_cfg
    size = cfg.get("input_size", (3, 224, 224))
    if tuple(size) != (3, 224, 224):
        print(f"warning: {args.model} expects {size}; config.pbtxt declares 3×224×224", file=sys.stderr)
    out_dir = os.path.join(args.repository, "mobilenetv4", "1")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    dummy = torch.randn(1, *size)
    torch.onnx.export(
        model, dummy, path,
        input_names=["input"], output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        opset_version=args.opset,
    )
    import onnx
    onnx.checker.check_model(onnx.load(path))
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB); mean {cfg.get('mean')}, std {cfg.get('std')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
