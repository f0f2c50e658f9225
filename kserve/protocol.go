package kserve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// HTTP details of the protocol.
const (
	// HeaderContentLength is the HTTP header carrying the length of the JSON header of a
	// binary-tensor request or response.
	HeaderContentLength = "Inference-Header-Content-Length"
	// ContentTypeJSON is the content type of a pure-JSON request or response.
	ContentTypeJSON = "application/json"
	// ContentTypeBinary is the content type of a request or response carrying binary tensors.
	ContentTypeBinary = "application/octet-stream"
)

// Parameter names of the binary-tensor extension.
const (
	ParamBinaryDataSize   = "binary_data_size"
	ParamBinaryData       = "binary_data"
	ParamBinaryDataOutput = "binary_data_output"
)

// Request is an inference request.
type Request struct {
	ID         string
	Parameters map[string]any
	Inputs     []Tensor
	Outputs    []RequestedOutput
}

// RequestedOutput names an output the client wants; Binary asks for it in the binary
// encoding (the output's binary_data parameter).
type RequestedOutput struct {
	Name       string
	Binary     bool
	Parameters map[string]any
}

// BinaryOutput reports whether the named output is to be returned as binary data: the
// output's binary_data parameter if the request names it, else the request's
// binary_data_output parameter.
func (r Request) BinaryOutput(name string) bool {
	for _, o := range r.Outputs {
		if o.Name == name {
			return o.Binary
		}
	}
	b, _ := r.Parameters[ParamBinaryDataOutput].(bool)
	return b
}

// Response is an inference response.
type Response struct {
	ModelName    string
	ModelVersion string
	ID           string
	Parameters   map[string]any
	Outputs      []Tensor
}

type wireTensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

type wireOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

type wireRequest struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []wireTensor   `json:"inputs"`
	Outputs    []wireOutput   `json:"outputs,omitempty"`
}

type wireResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version,omitempty"`
	ID           string         `json:"id,omitempty"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	Outputs      []wireTensor   `json:"outputs"`
}

// EncodeRequest renders r as a request body. With binary false the body is JSON with every
// input's data inline; with binary true every input's data follows the JSON header as raw
// bytes (its binary_data_size parameter giving the length) and headerLen is the header's
// length, to be sent in HeaderContentLength. headerLen is 0 for a JSON body.
func EncodeRequest(r Request, binary bool) (body []byte, headerLen int, err error) {
	if len(r.Inputs) == 0 {
		return nil, 0, errors.New("request: inputs: at least one input is required")
	}
	w := wireRequest{ID: r.ID, Parameters: r.Parameters}
	var blobs [][]byte
	for i, t := range r.Inputs {
		if err := t.Validate(); err != nil {
			return nil, 0, fmt.Errorf("request: inputs[%d]: %w", i, err)
		}
		wt, blob, err := toWire(t, binary)
		if err != nil {
			return nil, 0, fmt.Errorf("request: inputs[%d]: %w", i, err)
		}
		w.Inputs = append(w.Inputs, wt)
		if blob != nil {
			blobs = append(blobs, blob)
		}
	}
	for _, o := range r.Outputs {
		wo := wireOutput{Name: o.Name, Parameters: copyParams(o.Parameters)}
		if o.Binary {
			if wo.Parameters == nil {
				wo.Parameters = map[string]any{}
			}
			wo.Parameters[ParamBinaryData] = true
		}
		w.Outputs = append(w.Outputs, wo)
	}
	return assemble(w, blobs, binary)
}

// EncodeResponse renders r as a response body; outputs for which binary(name) is true are
// sent as binary data after the JSON header (binary may be nil: all JSON). headerLen is 0
// when no output is binary.
func EncodeResponse(r Response, binary func(name string) bool) (body []byte, headerLen int, err error) {
	w := wireResponse{ModelName: r.ModelName, ModelVersion: r.ModelVersion, ID: r.ID, Parameters: r.Parameters, Outputs: []wireTensor{}}
	var blobs [][]byte
	for i, t := range r.Outputs {
		if err := t.Validate(); err != nil {
			return nil, 0, fmt.Errorf("response: outputs[%d]: %w", i, err)
		}
		bin := binary != nil && binary(t.Name)
		wt, blob, err := toWire(t, bin)
		if err != nil {
			return nil, 0, fmt.Errorf("response: outputs[%d]: %w", i, err)
		}
		w.Outputs = append(w.Outputs, wt)
		if blob != nil {
			blobs = append(blobs, blob)
		}
	}
	return assemble(w, blobs, len(blobs) > 0)
}

func toWire(t Tensor, binary bool) (wireTensor, []byte, error) {
	wt := wireTensor{Name: t.Name, Shape: t.Shape, Datatype: t.Datatype, Parameters: copyParams(t.Parameters)}
	if wt.Shape == nil {
		wt.Shape = []int64{}
	}
	if binary {
		if wt.Parameters == nil {
			wt.Parameters = map[string]any{}
		}
		wt.Parameters[ParamBinaryDataSize] = len(t.Data)
		return wt, t.Data, nil
	}
	data, err := appendJSONData(nil, t)
	if err != nil {
		return wt, nil, err
	}
	wt.Data = data
	return wt, nil, nil
}

func assemble(w any, blobs [][]byte, binary bool) ([]byte, int, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, 0, err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	if !binary {
		return buf.Bytes(), 0, nil
	}
	headerLen := buf.Len()
	for _, b := range blobs {
		buf.Write(b)
	}
	return buf.Bytes(), headerLen, nil
}

func copyParams(p map[string]any) map[string]any {
	if len(p) == 0 {
		return nil
	}
	out := make(map[string]any, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// DecodeRequest parses and validates a request body. headerLen is the value of the
// HeaderContentLength header (0 when absent: the whole body is JSON). The JSON is decoded
// strictly (unknown fields are errors); every input must carry either inline data or a
// binary_data_size, the binary part must be consumed exactly, and every tensor's data must
// match its datatype and shape.
func DecodeRequest(body []byte, headerLen int) (Request, error) {
	header, bin, err := split(body, headerLen)
	if err != nil {
		return Request{}, err
	}
	var w wireRequest
	if err := strictJSON(header, &w); err != nil {
		return Request{}, fmt.Errorf("request: %w", err)
	}
	if len(w.Inputs) == 0 {
		return Request{}, errors.New("request: inputs: at least one input is required")
	}
	r := Request{ID: w.ID, Parameters: w.Parameters}
	if v, ok := r.Parameters[ParamBinaryDataOutput]; ok {
		if _, isBool := v.(bool); !isBool {
			return Request{}, fmt.Errorf("request: parameters.%s: want a boolean, got %v", ParamBinaryDataOutput, v)
		}
	}
	seen := map[string]bool{}
	for i, wt := range w.Inputs {
		if seen[wt.Name] {
			return Request{}, fmt.Errorf("request: inputs[%d]: duplicate input name %q", i, wt.Name)
		}
		seen[wt.Name] = true
		t, rest, err := fromWire(wt, bin)
		if err != nil {
			return Request{}, fmt.Errorf("request: inputs[%d]: %w", i, err)
		}
		bin = rest
		r.Inputs = append(r.Inputs, t)
	}
	if len(bin) != 0 {
		return Request{}, fmt.Errorf("request: %d bytes of binary data left over after the inputs' binary_data_size", len(bin))
	}
	for i, wo := range w.Outputs {
		if wo.Name == "" {
			return Request{}, fmt.Errorf("request: outputs[%d]: name is required", i)
		}
		o := RequestedOutput{Name: wo.Name, Parameters: map[string]any{}}
		for k, v := range wo.Parameters {
			if k == ParamBinaryData {
				b, ok := v.(bool)
				if !ok {
					return Request{}, fmt.Errorf("request: outputs[%d].parameters.%s: want a boolean, got %v", i, ParamBinaryData, v)
				}
				o.Binary = b
				continue
			}
			o.Parameters[k] = v
		}
		r.Outputs = append(r.Outputs, o)
	}
	return r, nil
}

// DecodeResponse parses a response body (headerLen as for DecodeRequest) and validates its
// outputs.
func DecodeResponse(body []byte, headerLen int) (Response, error) {
	header, bin, err := split(body, headerLen)
	if err != nil {
		return Response{}, err
	}
	var w wireResponse
	if err := strictJSON(header, &w); err != nil {
		return Response{}, fmt.Errorf("response: %w", err)
	}
	r := Response{ModelName: w.ModelName, ModelVersion: w.ModelVersion, ID: w.ID, Parameters: w.Parameters}
	for i, wt := range w.Outputs {
		t, rest, err := fromWire(wt, bin)
		if err != nil {
			return Response{}, fmt.Errorf("response: outputs[%d]: %w", i, err)
		}
		bin = rest
		r.Outputs = append(r.Outputs, t)
	}
	if len(bin) != 0 {
		return Response{}, fmt.Errorf("response: %d bytes of binary data left over", len(bin))
	}
	return r, nil
}

func split(body []byte, headerLen int) (header, bin []byte, err error) {
	switch {
	case headerLen < 0 || headerLen > len(body):
		return nil, nil, fmt.Errorf("%s: %d is outside the body's %d bytes", HeaderContentLength, headerLen, len(body))
	case headerLen == 0:
		return body, nil, nil
	}
	return body[:headerLen], body[headerLen:], nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("invalid JSON: trailing data after the object")
	}
	return nil
}

// fromWire builds a tensor from its JSON form, taking binary data from the front of bin.
func fromWire(wt wireTensor, bin []byte) (Tensor, []byte, error) {
	if wt.Name == "" {
		return Tensor{}, nil, errors.New("name is required")
	}
	if ElementSize(wt.Datatype) < 0 {
		return Tensor{}, nil, fmt.Errorf("tensor %q: unknown datatype %q", wt.Name, wt.Datatype)
	}
	if wt.Shape == nil {
		return Tensor{}, nil, fmt.Errorf("tensor %q: shape is required", wt.Name)
	}
	t := Tensor{Name: wt.Name, Datatype: wt.Datatype, Shape: wt.Shape}
	size := int64(-1)
	for k, v := range wt.Parameters {
		if k != ParamBinaryDataSize {
			if t.Parameters == nil {
				t.Parameters = map[string]any{}
			}
			t.Parameters[k] = v
			continue
		}
		n, err := paramInt(v)
		if err != nil || n < 0 {
			return Tensor{}, nil, fmt.Errorf("tensor %q: parameters.%s: want an integer ≥ 0, got %v", wt.Name, ParamBinaryDataSize, v)
		}
		size = n
	}
	hasData := len(wt.Data) > 0 && string(wt.Data) != "null"
	switch {
	case size >= 0 && hasData:
		return Tensor{}, nil, fmt.Errorf("tensor %q: has both data and parameters.%s", wt.Name, ParamBinaryDataSize)
	case size >= 0:
		if size > int64(len(bin)) {
			return Tensor{}, nil, fmt.Errorf("tensor %q: %s %d exceeds the %d bytes of binary data left", wt.Name, ParamBinaryDataSize, size, len(bin))
		}
		t.Data, bin = bin[:size], bin[size:]
	case hasData:
		data, err := decodeJSONData(wt.Name, wt.Datatype, wt.Data)
		if err != nil {
			return Tensor{}, nil, err
		}
		t.Data = data
	default:
		return Tensor{}, nil, fmt.Errorf("tensor %q: no data and no parameters.%s", wt.Name, ParamBinaryDataSize)
	}
	if err := t.Validate(); err != nil {
		return Tensor{}, nil, err
	}
	return t, bin, nil
}

func paramInt(v any) (int64, error) {
	switch x := v.(type) {
	case json.Number:
		return strconv.ParseInt(string(x), 10, 64)
	case float64:
		if x != float64(int64(x)) {
			return 0, fmt.Errorf("%v is not an integer", x)
		}
		return int64(x), nil
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

// ErrorResponse is the protocol's error body.
type ErrorResponse struct {
	Error string `json:"error"`
}

// ErrorBody returns the JSON error body {"error": msg}.
func ErrorBody(msg string) []byte {
	b, _ := json.Marshal(ErrorResponse{Error: msg})
	return b
}

// TensorMetadata describes an input or output in model metadata; -1 marks a variable
// dimension.
type TensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// ModelMetadata is the body of GET /v2/models/{model}.
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions,omitempty"`
	Platform string           `json:"platform"`
	Inputs   []TensorMetadata `json:"inputs"`
	Outputs  []TensorMetadata `json:"outputs"`
}

// ServerMetadata is the body of GET /v2.
type ServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}
