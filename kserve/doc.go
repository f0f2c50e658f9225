// Package kserve is the wire format of the KServe v2 / Open Inference Protocol over HTTP, as
// Triton Inference Server speaks it: inference requests and responses as JSON, tensor data
// either inline as JSON arrays or as Triton's binary-tensor extension (a JSON header followed
// by raw little-endian bytes, the header's length in the Inference-Header-Content-Length
// HTTP header), model metadata, and the {"error": "..."} error body.
//
// It is a leaf package: loadgen encodes requests with it, the serve emulator decodes and
// validates them, and calibrate uses both. It imports nothing of scalelab.
//
// Tensors are carried as Tensor values holding their data as raw bytes in the binary
// extension's layout: row-major little-endian elements for numeric datatypes, and for
// BYTES a 4-byte little-endian length before each element. EncodeRequest and
// DecodeRequest convert between that layout and either encoding, so a request survives a
// round trip bit for bit in both.
package kserve
