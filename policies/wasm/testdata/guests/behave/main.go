// Command behave is the tests' Go guest (built by the tests with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared). Its behaviour is chosen by the name of the spec's first feature:
//
//	echo     action[j] = obs[0] if valid, else -1 (every dimension)
//	count    action = [acts since the last reset, sum of observed rewards, observe calls]
//	rand     action[j] = a uniform float from math/rand/v2's global source (seeded by WASI random_get)
//	clock    action = [time.Now().UnixMilli(), nanoseconds elapsed since init by time.Since]
//	sleep    time.Sleep(10 s), then action[j] = 1
//	sandbox  reads the environment, the file system and the network; errors if any is reachable
//	loop     spins forever in Act
//	oom      allocates and keeps 1 MiB blocks in Act until the runtime dies
//	panic    panics in Act (the SDK recovers it into an error status)
//	exit     calls os.Exit(3) in Act
//	deadlock blocks forever on a channel in Act (the Go runtime aborts: all goroutines asleep)
//	initfail refuses the spec in Init (ErrUnsupported)
//	initloop spins forever in Init
package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"time"

	sdk "github.com/scalelab/scalelab/sdk/wasm"
)

type behave struct {
	mode     string
	acts     int
	rewards  float64
	observes int
	start    time.Time
	hoard    [][]byte
}

func (b *behave) Init(s sdk.Spec) error {
	if len(s.Features) == 0 {
		return fmt.Errorf("%w: the first feature names the behaviour", sdk.ErrInvalidArgument)
	}
	b.mode = s.Features[0].Name
	b.start = time.Now()
	switch b.mode {
	case "initfail":
		return sdk.Unsupported("this guest refuses every spec")
	case "initloop":
		for {
		}
	}
	return nil
}

func (b *behave) Act(obs []float64, valid []bool, action []float64) error {
	b.acts++
	fill := func(v float64) {
		for j := range action {
			action[j] = v
		}
	}
	switch b.mode {
	case "echo":
		if valid[0] {
			fill(obs[0])
		} else {
			fill(-1)
		}
	case "count":
		action[0], action[1], action[2] = float64(b.acts), b.rewards, float64(b.observes)
	case "rand":
		for j := range action {
			action[j] = rand.Float64()
		}
	case "clock":
		action[0] = float64(time.Now().UnixMilli())
		action[1] = float64(time.Since(b.start))
	case "sleep":
		time.Sleep(10 * time.Second)
		fill(1)
	case "sandbox":
		var leaks []error
		if v, ok := os.LookupEnv("HOME"); ok {
			leaks = append(leaks, fmt.Errorf("environment: HOME=%s", v))
		}
		if len(os.Environ()) > 0 {
			leaks = append(leaks, fmt.Errorf("environment: %d variables", len(os.Environ())))
		}
		for _, dir := range []string{"/", ".", "/etc", "/tmp"} {
			if ents, err := os.ReadDir(dir); err == nil {
				leaks = append(leaks, fmt.Errorf("file system: read %s (%d entries)", dir, len(ents)))
			}
		}
		if _, err := os.ReadFile("/etc/passwd"); err == nil {
			leaks = append(leaks, errors.New("file system: read /etc/passwd"))
		}
		if f, err := os.Create("/tmp/scalelab-wasm-escape"); err == nil {
			f.Close()
			leaks = append(leaks, errors.New("file system: created /tmp/scalelab-wasm-escape"))
		}
		if c, err := net.Dial("tcp", "127.0.0.1:80"); err == nil {
			c.Close()
			leaks = append(leaks, errors.New("network: dialled 127.0.0.1:80"))
		}
		if len(leaks) > 0 {
			return errors.Join(leaks...)
		}
		fill(0)
	case "loop":
		for {
		}
	case "oom":
		for {
			b.hoard = append(b.hoard, make([]byte, 1<<20))
		}
	case "panic":
		panic("boom")
	case "exit":
		os.Exit(3)
	case "deadlock":
		<-make(chan int)
	default:
		return fmt.Errorf("unknown behaviour %q", b.mode)
	}
	return nil
}

func (b *behave) Observe(reward float64, done bool) error {
	b.rewards += reward
	b.observes++
	return nil
}

func (b *behave) Reset() error {
	b.acts = 0
	return nil
}

func init() { sdk.Register(&behave{}) }

func main() {}
