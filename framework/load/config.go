package load

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

// Profile types accepted by FromConfig (the `type:` of a config's profiles entry).
const (
	TypeConstant = "constant"
	TypeStep     = "step"
	TypeRamp     = "ramp"
	TypeSine     = "sine"
	TypeSpike    = "spike"
	TypeSequence = "sequence"
	TypeTrace    = "trace"
)

// Types returns the profile type names FromConfig accepts, sorted.
func Types() []string {
	return []string{TypeConstant, TypeRamp, TypeSequence, TypeSine, TypeSpike, TypeStep, TypeTrace}
}

// ConstantParams are the keys of a constant profile.
type ConstantParams struct {
	Rate float64 `mapstructure:"rate" doc:"offered rate in req/s" default:"0"`
}

// StepChangeParams is one level change of a step profile.
type StepChangeParams struct {
	At   time.Duration `mapstructure:"at" doc:"offset from the start of the run at which the level starts" default:"0s"`
	Rate float64       `mapstructure:"rate" doc:"rate in req/s from that offset on" default:"0"`
}

// StepParams are the keys of a step profile.
type StepParams struct {
	Initial float64            `mapstructure:"initial" doc:"rate in req/s before the first change" default:"0"`
	Steps   []StepChangeParams `mapstructure:"steps" doc:"level changes: list of {at, rate}" default:"[]"`
}

// RampParams are the keys of a ramp profile.
type RampParams struct {
	From     float64       `mapstructure:"from" doc:"rate in req/s before and at the start of the ramp" default:"0"`
	To       float64       `mapstructure:"to" doc:"rate in req/s at and after the end of the ramp" default:"0"`
	Start    time.Duration `mapstructure:"start" doc:"offset at which the ramp starts" default:"0s"`
	Duration time.Duration `mapstructure:"duration" doc:"length of the ramp" default:"0s"`
}

// SineParams are the keys of a sine (diurnal) profile.
type SineParams struct {
	Mean      float64       `mapstructure:"mean" doc:"mean rate in req/s" default:"0"`
	Amplitude float64       `mapstructure:"amplitude" doc:"amplitude in req/s (the rate is clipped at 0)" default:"0"`
	Period    time.Duration `mapstructure:"period" doc:"period of the cycle" default:"24h"`
	Phase     time.Duration `mapstructure:"phase" doc:"time shift: rate(t) = mean + amplitude·sin(2π(t+phase)/period)" default:"0s"`
}

// SpikeParams are the keys of a spike profile.
type SpikeParams struct {
	Base     float64       `mapstructure:"base" doc:"rate in req/s outside spikes" default:"0"`
	Peak     float64       `mapstructure:"peak" doc:"rate in req/s during a spike" default:"0"`
	At       time.Duration `mapstructure:"at" doc:"offset of the first spike" default:"0s"`
	Duration time.Duration `mapstructure:"duration" doc:"length of each spike" default:"1m"`
	Every    time.Duration `mapstructure:"every" doc:"period of repeated spikes; 0 = a single spike" default:"0s"`
}

// SequenceParams are the keys of a sequence profile. Each part (PartParams) has a duration
// and a profile entry of its own (with `type` and that type's keys); a sequence may nest.
type SequenceParams struct {
	Parts []map[string]any `mapstructure:"parts" doc:"sub-profiles in order: each {duration, profile: {type, ...that type's keys}}" default:"[]"`
	Loop  bool             `mapstructure:"loop" doc:"start over after the last part (else the last part continues)" default:"false"`
}

// TraceParams are the keys of a trace profile.
type TraceParams struct {
	File          string  `mapstructure:"file" doc:"CSV file of time_seconds,rate rows (optional header, # comments), relative to the config file" default:""`
	Interpolation string  `mapstructure:"interpolation" doc:"linear or step" default:"linear"`
	Scale         float64 `mapstructure:"scale" doc:"multiplies every rate" default:"1"`
	TimeScale     float64 `mapstructure:"time_scale" doc:"multiplies every time (2 plays the trace at half speed)" default:"1"`
	Loop          bool    `mapstructure:"loop" doc:"repeat the trace after its last point (else the last rate holds)" default:"false"`
}

// DefaultParams returns a pointer to the params struct of a profile type with its defaults
// filled (for documentation generators and the config reference). ok is false for an
// unknown type.
func DefaultParams(typ string) (any, bool) {
	switch typ {
	case TypeConstant:
		return &ConstantParams{}, true
	case TypeStep:
		return &StepParams{}, true
	case TypeRamp:
		return &RampParams{}, true
	case TypeSine:
		return &SineParams{Period: 24 * time.Hour}, true
	case TypeSpike:
		return &SpikeParams{Duration: time.Minute}, true
	case TypeSequence:
		return &SequenceParams{}, true
	case TypeTrace:
		return &TraceParams{Interpolation: string(Linear), Scale: 1, TimeScale: 1}, true
	}
	return nil, false
}

// FromConfig builds a profile from a config entry: its type and its keys (the entry without
// `type`). Keys are decoded strictly: an unknown key, a wrong type or an out-of-range value
// is an error naming the key. Relative trace files resolve against baseDir.
func FromConfig(typ string, params map[string]any, baseDir string) (Profile, error) {
	p, err := fromConfig(typ, params, baseDir)
	if err != nil {
		return nil, fmt.Errorf("load profile type %q: %w", typ, err)
	}
	return p, nil
}

func fromConfig(typ string, params map[string]any, baseDir string) (Profile, error) {
	cfg, ok := DefaultParams(typ)
	if !ok {
		return nil, fmt.Errorf("unknown profile type (want one of %s)", strings.Join(Types(), ", "))
	}
	if err := Decode(params, cfg); err != nil {
		return nil, err
	}
	switch c := cfg.(type) {
	case *ConstantParams:
		if err := nonNegative("rate", c.Rate); err != nil {
			return nil, err
		}
		return Constant{RPS: c.Rate}, nil
	case *StepParams:
		errs := []error{nonNegative("initial", c.Initial)}
		changes := make([]Change, len(c.Steps))
		for i, s := range c.Steps {
			errs = append(errs, nonNegative(fmt.Sprintf("steps[%d].rate", i), s.Rate))
			if s.At < 0 {
				errs = append(errs, fmt.Errorf("steps[%d].at: must be ≥ 0, got %s", i, s.At))
			}
			changes[i] = Change{At: s.At, RPS: s.Rate}
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		return NewStep(c.Initial, changes), nil
	case *RampParams:
		errs := []error{nonNegative("from", c.From), nonNegative("to", c.To)}
		if c.Start < 0 {
			errs = append(errs, fmt.Errorf("start: must be ≥ 0, got %s", c.Start))
		}
		if c.Duration < 0 {
			errs = append(errs, fmt.Errorf("duration: must be ≥ 0, got %s", c.Duration))
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		return Ramp{From: c.From, To: c.To, Start: c.Start, Length: c.Duration}, nil
	case *SineParams:
		errs := []error{nonNegative("mean", c.Mean), finite("amplitude", c.Amplitude)}
		if c.Period <= 0 {
			errs = append(errs, fmt.Errorf("period: must be > 0, got %s", c.Period))
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		return Sine{Mean: c.Mean, Amplitude: c.Amplitude, Period: c.Period, Phase: c.Phase}, nil
	case *SpikeParams:
		errs := []error{nonNegative("base", c.Base), nonNegative("peak", c.Peak)}
		if c.At < 0 {
			errs = append(errs, fmt.Errorf("at: must be ≥ 0, got %s", c.At))
		}
		if c.Duration <= 0 {
			errs = append(errs, fmt.Errorf("duration: must be > 0, got %s", c.Duration))
		}
		if c.Every != 0 && c.Every < c.Duration {
			errs = append(errs, fmt.Errorf("every: must be 0 or ≥ duration (%s), got %s", c.Duration, c.Every))
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		return Spike{Base: c.Base, Peak: c.Peak, At: c.At, Length: c.Duration, Every: c.Every}, nil
	case *SequenceParams:
		if len(c.Parts) == 0 {
			return nil, errors.New("parts: need at least one part")
		}
		parts := make([]Part, len(c.Parts))
		for i, raw := range c.Parts {
			part, err := sequencePart(raw, baseDir)
			if err != nil {
				return nil, fmt.Errorf("parts[%d]: %w", i, err)
			}
			parts[i] = part
		}
		return NewSequence(parts, c.Loop), nil
	case *TraceParams:
		var errs []error
		if c.File == "" {
			errs = append(errs, errors.New("file: required"))
		}
		interp := Interpolation(c.Interpolation)
		if interp != Linear && interp != Hold {
			errs = append(errs, fmt.Errorf("interpolation: must be %q or %q, got %q", Linear, Hold, c.Interpolation))
		}
		if !(c.Scale >= 0) || math.IsInf(c.Scale, 0) {
			errs = append(errs, fmt.Errorf("scale: must be a finite number ≥ 0, got %v", c.Scale))
		}
		if !(c.TimeScale > 0) || math.IsInf(c.TimeScale, 0) {
			errs = append(errs, fmt.Errorf("time_scale: must be a finite number > 0, got %v", c.TimeScale))
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		path := c.File
		if !filepath.IsAbs(path) && baseDir != "" {
			path = filepath.Join(baseDir, path)
		}
		times, rates, err := ReadTraceFile(path)
		if err != nil {
			return nil, err
		}
		for i := range times {
			times[i] *= c.TimeScale
			rates[i] *= c.Scale
		}
		if c.Loop && times[len(times)-1] <= 0 {
			return nil, fmt.Errorf("loop: trace %s must span a positive time to loop", path)
		}
		return NewTrace(times, rates, interp, c.Loop), nil
	}
	return nil, fmt.Errorf("unhandled params %T", cfg) // unreachable: DefaultParams covers every type
}

// TraceFiles returns the trace files a profile entry references (resolved against baseDir),
// sequences included, for the config hash. Malformed entries yield no files (FromConfig
// reports them).
func TraceFiles(typ string, params map[string]any, baseDir string) []string {
	switch typ {
	case TypeTrace:
		f, ok := params["file"].(string)
		if !ok || f == "" {
			return nil
		}
		if !filepath.IsAbs(f) && baseDir != "" {
			f = filepath.Join(baseDir, f)
		}
		return []string{f}
	case TypeSequence:
		parts, _ := params["parts"].([]any)
		var out []string
		for _, p := range parts {
			m, ok := p.(map[string]any)
			if !ok {
				continue
			}
			prof, ok := m["profile"].(map[string]any)
			if !ok {
				continue
			}
			t, _ := prof["type"].(string)
			out = append(out, TraceFiles(t, prof, baseDir)...)
		}
		return out
	}
	return nil
}

// PartParams is one part of a sequence profile.
type PartParams struct {
	Duration time.Duration  `mapstructure:"duration" doc:"length of this part" default:"0s"`
	Profile  map[string]any `mapstructure:"profile" doc:"the part's profile: {type, ...that type's keys}; it sees offsets from the part's start" default:"{}"`
}

func sequencePart(raw map[string]any, baseDir string) (Part, error) {
	var pp PartParams
	if err := Decode(raw, &pp); err != nil {
		return Part{}, err
	}
	if pp.Duration <= 0 {
		return Part{}, fmt.Errorf("duration: must be > 0 (the length of this part), got %s", pp.Duration)
	}
	typ, ok := pp.Profile["type"].(string)
	if !ok || typ == "" {
		return Part{}, errors.New("profile.type: required (a profile type)")
	}
	rest := make(map[string]any, len(pp.Profile))
	for k, v := range pp.Profile {
		if k != "type" {
			rest[k] = v
		}
	}
	p, err := fromConfig(typ, rest, baseDir)
	if err != nil {
		return Part{}, fmt.Errorf("profile (type %q): %w", typ, err)
	}
	return Part{Profile: p, Length: pp.Duration}, nil
}

// Decode decodes params into out (a pointer to a struct with mapstructure tags) strictly:
// unknown keys are errors naming them, durations are strings such as "15s" (a bare number
// other than 0 is rejected, since it would silently mean nanoseconds).
func Decode(params map[string]any, out any) error {
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		ErrorUnused: true,
		Result:      out,
		DecodeHook:  mapstructure.ComposeDecodeHookFunc(durationHook),
	})
	if err != nil {
		return err
	}
	if err := dec.Decode(params); err != nil {
		return unusedKeysError(err)
	}
	return nil
}

var durationType = reflect.TypeOf(time.Duration(0))

func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	return DurationValue(data)
}

// DurationValue converts a config value to a duration: a string such as "15s" or "1m30s",
// a time.Duration, or a bare 0. Any other number is an error, since it would silently mean
// nanoseconds.
func DurationValue(data any) (time.Duration, error) {
	switch v := data.(type) {
	case string:
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q (write e.g. \"15s\", \"5m\")", v)
		}
		return d, nil
	case time.Duration:
		return v, nil
	}
	rv := reflect.ValueOf(data)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if rv.Int() == 0 {
			return 0, nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() == 0 {
			return 0, nil
		}
	case reflect.Float32, reflect.Float64:
		if rv.Float() == 0 {
			return 0, nil
		}
	}
	return 0, fmt.Errorf("duration %v needs a unit (write e.g. \"%vs\")", data, data)
}

// unusedKeysError rewrites mapstructure's "has invalid keys" message so that it names the
// keys plainly and in sorted order.
func unusedKeysError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "has invalid keys: "); i >= 0 {
		keys := strings.Split(strings.TrimSpace(msg[i+len("has invalid keys: "):]), ", ")
		sort.Strings(keys)
		return fmt.Errorf("unknown key(s) %s", strings.Join(keys, ", "))
	}
	return err
}

func nonNegative(key string, v float64) error {
	if !(v >= 0) || math.IsInf(v, 0) {
		return fmt.Errorf("%s: must be a finite number ≥ 0, got %v", key, v)
	}
	return nil
}

func finite(key string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%s: must be finite, got %v", key, v)
	}
	return nil
}
