package kserve

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func fp32Tensor(name string, shape []int64, values []float32) Tensor {
	return Tensor{Name: name, Datatype: FP32, Shape: shape, Data: FP32Data(values)}
}

func TestRequestRoundTrip(t *testing.T) {
	// Values chosen to stress shortest-form float formatting: 0.1 and 1/3 are not exact in
	// binary, -0 keeps its sign bit, 3.4e38 is near FP32's maximum.
	vals := []float32{0.1, float32(1.0 / 3), -0.0, 3.4e38, 1e-45, -7}
	img := AppendBytesElement(nil, []byte{0xff, 0xd8, 0x00, 0x01})
	img = AppendBytesElement(img, nil)
	cases := []struct {
		name   string
		in     Tensor
		binary bool
	}{
		{"fp32 json", fp32Tensor("input", []int64{1, 2, 3}, vals), false},
		{"fp32 binary", fp32Tensor("input", []int64{2, 3}, vals), true},
		{"uint8 json", Tensor{Name: "u", Datatype: UINT8, Shape: []int64{1, 4}, Data: []byte{0, 1, 128, 255}}, false},
		{"int16 json", Tensor{Name: "i", Datatype: INT16, Shape: []int64{2}, Data: []byte{0xff, 0xff, 0x00, 0x80}}, false},
		{"bool json", Tensor{Name: "b", Datatype: BOOL, Shape: []int64{3}, Data: []byte{1, 0, 1}}, false},
		{"bytes binary (not UTF-8)", Tensor{Name: "image", Datatype: BYTES, Shape: []int64{2}, Data: img}, true},
		{"bytes json", Tensor{Name: "s", Datatype: BYTES, Shape: []int64{1}, Data: AppendBytesElement(nil, []byte("héllo \"x\""))}, false},
		{"empty tensor", Tensor{Name: "e", Datatype: FP32, Shape: []int64{1, 0}, Data: nil}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{ID: "r1", Inputs: []Tensor{tc.in}, Outputs: []RequestedOutput{{Name: "output", Binary: tc.binary}}}
			body, hl, err := EncodeRequest(req, tc.binary)
			if err != nil {
				t.Fatal(err)
			}
			if tc.binary != (hl > 0) {
				t.Fatalf("binary %v but header length %d", tc.binary, hl)
			}
			if tc.binary && len(body)-hl != len(tc.in.Data) {
				t.Fatalf("binary part is %d bytes, want the tensor's %d", len(body)-hl, len(tc.in.Data))
			}
			got, err := DecodeRequest(body, hl)
			if err != nil {
				t.Fatalf("decode: %v\nbody: %.300s", err, body)
			}
			if got.ID != "r1" || len(got.Inputs) != 1 {
				t.Fatalf("got %+v", got)
			}
			g := got.Inputs[0]
			if g.Name != tc.in.Name || g.Datatype != tc.in.Datatype || !bytes.Equal(g.Data, tc.in.Data) {
				t.Errorf("round trip changed the tensor:\n got %+v\nwant %+v", g, tc.in)
			}
			if got.BinaryOutput("output") != tc.binary {
				t.Errorf("BinaryOutput = %v, want %v", got.BinaryOutput("output"), tc.binary)
			}
		})
	}
}

func TestDecodeNestedJSONData(t *testing.T) {
	body := `{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1, 2.5],[ -3e2 ,4]]}]}`
	r, err := DecodeRequest([]byte(body), 0)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := FP32Values(r.Inputs[0].Data)
	want := []float32{1, 2.5, -300, 4}
	for i := range want {
		if v[i] != want[i] {
			t.Fatalf("values %v, want %v", v, want)
		}
	}
}

func TestDecodeRequestRejectsInvalid(t *testing.T) {
	bin := func(header string, data []byte) ([]byte, int) { return append([]byte(header), data...), len(header) }
	cases := []struct {
		name, body string
		data       []byte // binary part; header length = len(body) when non-nil
		want       string
	}{
		{"not json", `{"inputs":`, nil, "invalid JSON"},
		{"unknown field", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"extra":1}`, nil, "unknown field"},
		{"no inputs", `{"inputs":[]}`, nil, "at least one input"},
		{"too few elements", `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2]}]}`, nil, "needs 12 bytes"},
		{"uint8 out of range", `{"inputs":[{"name":"x","shape":[2],"datatype":"UINT8","data":[1,256]}]}`, nil, "element 1"},
		{"uint8 not integer", `{"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","data":[1.5]}]}`, nil, "UINT8 element"},
		{"negative dim", `{"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]}`, nil, "must be ≥ 0"},
		{"unknown datatype", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP8","data":[1]}]}`, nil, "unknown datatype"},
		{"missing data", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]}`, nil, "no data"},
		{"missing shape", `{"inputs":[{"name":"x","datatype":"FP32","data":[1]}]}`, nil, "shape is required"},
		{"duplicate names", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]},{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}`, nil, "duplicate"},
		{"fp16 as json", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP16","data":[1]}]}`, nil, "binary encoding"},
		{"data not array", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":1}]}`, nil, "JSON array"},
		{"binary size too big", `{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}`, []byte{0, 0, 0, 0}, "exceeds"},
		{"binary left over", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}`, make([]byte, 8), "left over"},
		{"binary and data", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":{"binary_data_size":4}}]}`, make([]byte, 4), "both"},
		{"binary size wrong for shape", `{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":4}}]}`, make([]byte, 4), "needs 8 bytes"},
		{"bad bytes framing", `{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":5}}]}`, []byte{9, 0, 0, 0, 1}, "exceeds the remaining"},
		{"binary_data not bool", `{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{"name":"o","parameters":{"binary_data":"yes"}}]}`, nil, "want a boolean"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, hl := []byte(tc.body), 0
			if tc.data != nil {
				body, hl = bin(tc.body, tc.data)
			}
			_, err := DecodeRequest(body, hl)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := DecodeRequest([]byte(`{}`), 10); err == nil || !strings.Contains(err.Error(), HeaderContentLength) {
		t.Errorf("header length beyond the body: error %v", err)
	}
}

func TestEncodeRejectsWhatJSONCannotCarry(t *testing.T) {
	nan := fp32Tensor("x", []int64{1}, []float32{float32(math.NaN())})
	if _, _, err := EncodeRequest(Request{Inputs: []Tensor{nan}}, false); err == nil {
		t.Error("NaN in JSON data: no error")
	}
	if _, _, err := EncodeRequest(Request{Inputs: []Tensor{nan}}, true); err != nil {
		t.Errorf("NaN in binary data: %v", err)
	}
	img := Tensor{Name: "image", Datatype: BYTES, Shape: []int64{1}, Data: AppendBytesElement(nil, []byte{0xff, 0xd8})}
	if _, _, err := EncodeRequest(Request{Inputs: []Tensor{img}}, false); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("binary image as JSON: error %v, want a UTF-8 error", err)
	}
	short := Tensor{Name: "x", Datatype: FP32, Shape: []int64{2}, Data: make([]byte, 4)}
	if _, _, err := EncodeRequest(Request{Inputs: []Tensor{short}}, true); err == nil {
		t.Error("tensor data shorter than its shape: no error")
	}
}

func TestResponseRoundTrip(t *testing.T) {
	out := fp32Tensor("output", []int64{1, 4}, []float32{0, 1, 0.25, 0})
	for _, binary := range []bool{false, true} {
		body, hl, err := EncodeResponse(Response{ModelName: "m", ModelVersion: "1", ID: "a", Outputs: []Tensor{out}},
			func(string) bool { return binary })
		if err != nil {
			t.Fatal(err)
		}
		r, err := DecodeResponse(body, hl)
		if err != nil {
			t.Fatalf("binary %v: %v", binary, err)
		}
		if r.ModelName != "m" || r.ID != "a" || len(r.Outputs) != 1 || !bytes.Equal(r.Outputs[0].Data, out.Data) {
			t.Errorf("binary %v: got %+v", binary, r)
		}
	}
}

func BenchmarkDecodeFP32JSON(b *testing.B) {
	vals := make([]float32, 3*224*224)
	for i := range vals {
		vals[i] = float32(i%255) / 255
	}
	body, _, err := EncodeRequest(Request{Inputs: []Tensor{fp32Tensor("input", []int64{1, 3, 224, 224}, vals)}}, false)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := DecodeRequest(body, 0); err != nil {
			b.Fatal(err)
		}
	}
}
