package sim

// timer kinds: what a timer does when it fires.
const (
	tkTimeout  uint8 = iota // the oldest unresolved request reaches the client timeout
	tkTick                  // a metrics snapshot (every observation.resolution)
	tkCPU                   // a pod's CPU stage finishes its oldest request
	tkBatch                 // a pod's dynamic batcher reaches max_queue_delay
	tkLife                  // a pod's next lifecycle step
	tkReload                // a pod's model reload completes
	tkGPU                   // a GPU's earliest running batch completes
	tkPeriodic              // a registered periodic callback
)

// timer is a persistent, reschedulable event. Components own their timers (one per pod
// per purpose, one per GPU, ...), so the heap holds a few dozen entries at most and no
// event is allocated per request.
type timer struct {
	at   int64  // virtual time in ns from the episode start
	seq  uint64 // scheduling order: ties on at fire in the order they were scheduled
	idx  int    // position in the heap, -1 when not scheduled
	kind uint8
	pod  *pod
	gpu  *gpu
	per  *periodic
}

func (t *timer) armed() bool { return t.idx >= 0 }

// timerHeap is a typed binary min-heap ordered by (at, seq); container/heap's interface
// calls cost too much on the hot path.
type timerHeap []*timer

func (h timerHeap) less(i, j int) bool {
	a, b := h[i], h[j]
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}

func (h timerHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h timerHeap) down(i int) bool {
	i0 := i
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

func (h *timerHeap) push(t *timer) {
	t.idx = len(*h)
	*h = append(*h, t)
	h.up(t.idx)
}

func (h *timerHeap) remove(i int) {
	old := *h
	n := len(old) - 1
	t := old[i]
	if i != n {
		old.swap(i, n)
	}
	old[n] = nil
	*h = old[:n]
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
	t.idx = -1
}

func (h timerHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}
