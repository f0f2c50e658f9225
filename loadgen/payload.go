package loadgen

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"

	"github.com/scalelab/scalelab/kserve"
)

// streamPayload seeds the synthetic images ("payload1").
const streamPayload uint64 = 0x7061796c6f616431

// imagenetMean and imagenetStd are the per-channel normalisation of timm's ImageNet
// models (MobileNetV4 included), applied to pixels scaled to [0, 1].
var (
	imagenetMean = [3]float64{0.485, 0.456, 0.406}
	imagenetStd  = [3]float64{0.229, 0.224, 0.225}
)

// Payload is a ready-to-send inference request: its body and headers. Every request of a
// run carries the same payload (the model's cost does not depend on pixel values).
type Payload struct {
	Body   []byte
	Header http.Header
	// Images is the batch size of the request.
	Images int
}

// SyntheticImage returns a deterministic h×w RGB test picture for a seed: smooth colour
// gradients and a disc, with mild pixel noise, so that it compresses like a photograph
// rather than like a flat colour.
func SyntheticImage(h, w int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, streamPayload))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	cx, cy, rad := float64(w)*(0.3+0.4*r.Float64()), float64(h)*(0.3+0.4*r.Float64()), float64(min(h, w))*0.25
	phase := r.Float64() * 2 * math.Pi
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			rr := 128 + 100*math.Sin(2*math.Pi*fx+phase)
			gg := 60 + 160*fy
			bb := 200 - 150*fx*fy
			if d := math.Hypot(float64(x)-cx, float64(y)-cy); d < rad {
				rr, gg, bb = 230-d, 200*(1-d/rad), 40
			}
			n := r.NormFloat64() * 6
			img.SetRGBA(x, y, color.RGBA{R: clamp8(rr + n), G: clamp8(gg + n), B: clamp8(bb + n), A: 255})
		}
	}
	return img
}

func clamp8(v float64) uint8 { return uint8(math.Max(0, math.Min(255, math.Round(v)))) }

// BuildPayload renders the configured request: Batch synthetic images (seeded by Seed)
// as an FP32 tensor (normalised as timm's ImageNet preprocessing does), a UINT8 tensor
// (raw pixels) or encoded image files (BYTES), in the configured layout and encoding.
func BuildPayload(c Config) (Payload, error) {
	h, w, err := imageSize(c.Shape)
	if err != nil {
		return Payload{}, fmt.Errorf("shape: %w", err)
	}
	nchw := c.Shape[0] == 3
	var in kserve.Tensor
	switch c.Payload {
	case PayloadFP32, PayloadUINT8:
		n := 3 * h * w
		shape := append([]int64{int64(c.Batch)}, c.Shape...)
		u8 := make([]byte, 0, c.Batch*n)
		f32 := make([]float32, 0, c.Batch*n)
		for i := 0; i < c.Batch; i++ {
			img := SyntheticImage(h, w, c.Seed+uint64(i))
			for j := 0; j < n; j++ {
				var y, x, ch int
				if nchw {
					ch, y, x = j/(h*w), (j/w)%h, j%w
				} else {
					y, x, ch = j/(w*3), (j/3)%w, j%3
				}
				p := img.Pix[img.PixOffset(x, y)+ch]
				u8 = append(u8, p)
				f32 = append(f32, float32((float64(p)/255-imagenetMean[ch])/imagenetStd[ch]))
			}
		}
		if c.Payload == PayloadUINT8 {
			in = kserve.Tensor{Name: c.InputName, Datatype: kserve.UINT8, Shape: shape, Data: u8}
		} else {
			in = kserve.Tensor{Name: c.InputName, Datatype: kserve.FP32, Shape: shape, Data: kserve.FP32Data(f32)}
		}
	case PayloadImage:
		var data []byte
		for i := 0; i < c.Batch; i++ {
			var buf bytes.Buffer
			img := SyntheticImage(h, w, c.Seed+uint64(i))
			if c.ImageFormat == "png" {
				err = png.Encode(&buf, img)
			} else {
				err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: c.ImageQuality})
			}
			if err != nil {
				return Payload{}, fmt.Errorf("encoding the image payload: %w", err)
			}
			data = kserve.AppendBytesElement(data, buf.Bytes())
		}
		in = kserve.Tensor{Name: c.ImageInputName, Datatype: kserve.BYTES, Shape: []int64{int64(c.Batch)}, Data: data}
	default:
		return Payload{}, fmt.Errorf("payload: unknown mode %q", c.Payload)
	}
	req := kserve.Request{Inputs: []kserve.Tensor{in}}
	if c.OutputName != "" {
		req.Outputs = []kserve.RequestedOutput{{Name: c.OutputName, Binary: c.BinaryOutput}}
	} else if c.BinaryOutput {
		req.Parameters = map[string]any{kserve.ParamBinaryDataOutput: true}
	}
	body, hl, err := kserve.EncodeRequest(req, c.Encoding == EncodingBinary)
	if err != nil {
		return Payload{}, fmt.Errorf("payload: %w", err)
	}
	hdr := http.Header{}
	if hl > 0 {
		hdr.Set("Content-Type", kserve.ContentTypeBinary)
		hdr.Set(kserve.HeaderContentLength, strconv.Itoa(hl))
	} else {
		hdr.Set("Content-Type", kserve.ContentTypeJSON)
	}
	return Payload{Body: body, Header: hdr, Images: c.Batch}, nil
}

// InferURL returns the infer endpoint of the configured model.
func (c Config) InferURL() string {
	if c.Version != "" {
		return fmt.Sprintf("%s/v2/models/%s/versions/%s/infer", trimSlash(c.URL), c.Model, c.Version)
	}
	return fmt.Sprintf("%s/v2/models/%s/infer", trimSlash(c.URL), c.Model)
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
