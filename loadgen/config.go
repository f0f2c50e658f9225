package loadgen

import (
	"fmt"
	"net/url"
	"time"

	"github.com/scalelab/scalelab/framework/load"
)

// Payload modes.
const (
	// PayloadFP32 sends a preprocessed image tensor in FP32 (3×224×224 = 602,112 bytes).
	PayloadFP32 = "fp32"
	// PayloadUINT8 sends the raw pixels as a UINT8 tensor (150,528 bytes).
	PayloadUINT8 = "uint8"
	// PayloadImage sends the encoded image file (JPEG or PNG) as a BYTES tensor.
	PayloadImage = "image"
)

// Encodings of the tensor data.
const (
	// EncodingJSON puts the data inline in the JSON body.
	EncodingJSON = "json"
	// EncodingBinary uses the binary-tensor extension (raw bytes after a JSON header).
	EncodingBinary = "binary"
)

// Config are the load generator's settings (`scalelab loadgen` flags of the same names,
// with dashes for underscores). The load profile and arrival process are given
// separately, as a framework/load Load.
type Config struct {
	URL     string `mapstructure:"url" doc:"base URL of the KServe v2 endpoint (Triton's HTTP port)" default:"http://localhost:8000"`
	Model   string `mapstructure:"model" doc:"model name" default:"mobilenetv4"`
	Version string `mapstructure:"version" doc:"model version; empty lets the server choose" default:""`

	Payload           string  `mapstructure:"payload" doc:"what each request carries: fp32 (a preprocessed FP32 tensor, 602,112 bytes at 3×224×224), uint8 (raw pixels) or image (an encoded image file as BYTES)" default:"fp32"`
	Encoding          string  `mapstructure:"encoding" doc:"json (data inline) or binary (Triton's binary tensor extension); image needs binary" default:"binary"`
	Shape             []int64 `mapstructure:"shape" doc:"shape of one image without the batch dimension: [3, H, W] (NCHW) or [H, W, 3] (NHWC)" default:"[3 224 224]"`
	Batch             int     `mapstructure:"batch" doc:"images per request (the request's batch dimension)" default:"1"`
	InputName         string  `mapstructure:"input_name" doc:"name of the tensor input (fp32 and uint8 payloads)" default:"input"`
	ImageInputName    string  `mapstructure:"image_input_name" doc:"name of the BYTES input (image payload)" default:"image"`
	OutputName        string  `mapstructure:"output_name" doc:"output to request; empty requests none explicitly (the server returns all)" default:"output"`
	BinaryOutput      bool    `mapstructure:"binary_output" doc:"ask for the output as binary data" default:"false"`
	ImageFormat       string  `mapstructure:"image_format" doc:"encoding of the image payload: jpeg or png" default:"jpeg"`
	ImageQuality      int     `mapstructure:"image_quality" doc:"JPEG quality of the image payload (1–100)" default:"90"`
	ValidateResponses bool    `mapstructure:"validate_responses" doc:"decode every response and count a malformed one as a failure" default:"false"`

	Duration    time.Duration `mapstructure:"duration" doc:"how long to send load" default:"1m"`
	Seed        uint64        `mapstructure:"seed" doc:"seed of the arrival process; the same seed gives the arrival times the simulator draws" default:"1"`
	Timeout     time.Duration `mapstructure:"timeout" doc:"client timeout: a request unanswered after this long is a drop" default:"1s"`
	SLO         time.Duration `mapstructure:"slo" doc:"latency objective: completions slower than this are SLO violations" default:"50ms"`
	MaxWorkers  uint64        `mapstructure:"max_workers" doc:"most requests in flight at once; beyond it sending falls behind the profile (reported as schedule lag)" default:"10000"`
	Connections int           `mapstructure:"connections" doc:"idle connections kept to the endpoint" default:"10000"`
	MetricsAddr string        `mapstructure:"metrics_addr" doc:"listen address of the load generator's /metrics; empty: none" default:":9102"`
}

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{
		URL: "http://localhost:8000", Model: "mobilenetv4",
		Payload: PayloadFP32, Encoding: EncodingBinary, Shape: []int64{3, 224, 224}, Batch: 1,
		InputName: "input", ImageInputName: "image", OutputName: "output",
		ImageFormat: "jpeg", ImageQuality: 90,
		Duration: time.Minute, Seed: 1, Timeout: time.Second, SLO: 50 * time.Millisecond,
		MaxWorkers: 10000, Connections: 10000, MetricsAddr: ":9102",
	}
}

// Validate checks the configuration and returns one error per problem, each naming its key.
func (c Config) Validate() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("url", "want an http:// or https:// base URL, got %q", c.URL)
	}
	if c.Model == "" {
		add("model", "required")
	}
	switch c.Payload {
	case PayloadFP32, PayloadUINT8:
	case PayloadImage:
		if c.Encoding == EncodingJSON {
			add("encoding", "the image payload carries binary image files, which JSON cannot; use binary")
		}
	default:
		add("payload", "want fp32, uint8 or image, got %q", c.Payload)
	}
	if c.Encoding != EncodingJSON && c.Encoding != EncodingBinary {
		add("encoding", "want json or binary, got %q", c.Encoding)
	}
	if _, _, err := imageSize(c.Shape); err != nil {
		add("shape", "%v", err)
	}
	if c.Batch < 1 {
		add("batch", "must be ≥ 1, got %d", c.Batch)
	}
	if c.ImageFormat != "jpeg" && c.ImageFormat != "png" {
		add("image_format", "want jpeg or png, got %q", c.ImageFormat)
	}
	if c.ImageQuality < 1 || c.ImageQuality > 100 {
		add("image_quality", "must be in [1, 100], got %d", c.ImageQuality)
	}
	if c.Duration <= 0 {
		add("duration", "must be > 0, got %s", c.Duration)
	}
	if c.Timeout <= 0 {
		add("timeout", "must be > 0, got %s", c.Timeout)
	}
	if c.SLO <= 0 {
		add("slo", "must be > 0, got %s", c.SLO)
	}
	if c.MaxWorkers < 1 {
		add("max_workers", "must be ≥ 1, got %d", c.MaxWorkers)
	}
	if c.Connections < 1 {
		add("connections", "must be ≥ 1, got %d", c.Connections)
	}
	return errs
}

// imageSize returns the height and width of an image shape [3, H, W] or [H, W, 3].
func imageSize(shape []int64) (h, w int, err error) {
	if len(shape) != 3 {
		return 0, 0, fmt.Errorf("want [3, H, W] or [H, W, 3], got %v", shape)
	}
	for _, d := range shape {
		if d < 1 || d > 1<<14 {
			return 0, 0, fmt.Errorf("dimensions must be in [1, 16384], got %v", shape)
		}
	}
	switch {
	case shape[0] == 3:
		return int(shape[1]), int(shape[2]), nil
	case shape[2] == 3:
		return int(shape[0]), int(shape[1]), nil
	}
	return 0, 0, fmt.Errorf("one of the first or last dimension must be the 3 colour channels, got %v", shape)
}

// ValidateLoad checks a load for the generator: a profile and a valid arrival process.
func ValidateLoad(l load.Load) error {
	if l.Profile == nil {
		return fmt.Errorf("load: no profile")
	}
	return l.Arrivals.Validate()
}
