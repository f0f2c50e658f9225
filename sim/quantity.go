package sim

import (
	"fmt"
	"math"
	"reflect"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Millicores is a CPU quantity in thousandths of a core. In YAML it is written as Kubernetes
// writes it: "500m", "2" or a bare number of cores (2, 0.5).
type Millicores int64

// Cores returns the quantity in cores.
func (m Millicores) Cores() float64 { return float64(m) / 1000 }

// Bytes is a memory quantity in bytes. In YAML it is written as Kubernetes writes it:
// "10Gi", "512Mi", "1G" or a bare number of bytes.
type Bytes int64

var (
	millicoresType = reflect.TypeOf(Millicores(0))
	bytesType      = reflect.TypeOf(Bytes(0))
)

// quantityHook decodes Kubernetes quantity strings and numbers into Millicores and Bytes.
func quantityHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	if to != millicoresType && to != bytesType {
		return data, nil
	}
	var q resource.Quantity
	switch v := data.(type) {
	case string:
		var err error
		q, err = resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("invalid quantity %q (write e.g. \"500m\", \"2\", \"10Gi\")", v)
		}
	case Millicores, Bytes:
		return v, nil
	default:
		rv := reflect.ValueOf(data)
		var f float64
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f = float64(rv.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f = float64(rv.Uint())
		case reflect.Float32, reflect.Float64:
			f = rv.Float()
		default:
			return nil, fmt.Errorf("invalid quantity %v of type %T", data, data)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("invalid quantity %v", f)
		}
		if to == millicoresType {
			return Millicores(math.Round(f * 1000)), nil
		}
		return Bytes(math.Round(f)), nil
	}
	if to == millicoresType {
		return Millicores(q.MilliValue()), nil
	}
	return Bytes(q.Value()), nil
}
