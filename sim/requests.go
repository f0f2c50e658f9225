package sim

// Request states.
const (
	reqCPU    uint8 = iota + 1 // in the pod's CPU stage (receive, decode, copy)
	reqQueued                  // in the pod's batcher queue
	reqExec                    // in a batch on the GPU
	reqDone                    // completed, rejected, failed or abandoned and finished
)

// request is one request in flight. Requests live in a ring indexed by arrival sequence,
// so per-request state costs no allocation and memory follows the number in flight.
type request struct {
	arrival   int64
	enqueue   int64   // time it entered the batcher queue
	cpuTarget float64 // CPU stage: the pod's virtual CPU time at which it is done
	pod       *pod
	state     uint8
	abandoned bool // the client timed out (already counted as a drop)
}

// reqRing holds requests by sequence number; seq & mask is the slot.
type reqRing struct {
	buf        []request
	mask       uint64
	head, tail uint64 // [head, tail) are live slots; head is the oldest not yet reclaimed
}

func (r *reqRing) reset() {
	if r.buf == nil {
		r.buf = make([]request, 1024)
		r.mask = 1023
	}
	for i := r.head; i < r.tail; i++ {
		r.buf[i&r.mask] = request{}
	}
	r.head, r.tail = 0, 0
}

func (r *reqRing) at(seq uint64) *request { return &r.buf[seq&r.mask] }

func (r *reqRing) push(arrival int64, p *pod) uint64 {
	if r.tail-r.head == uint64(len(r.buf)) {
		r.grow()
	}
	seq := r.tail
	r.tail++
	r.buf[seq&r.mask] = request{arrival: arrival, pod: p}
	return seq
}

func (r *reqRing) grow() {
	nb := make([]request, 2*len(r.buf))
	nm := uint64(len(nb) - 1)
	for s := r.head; s < r.tail; s++ {
		nb[s&nm] = r.buf[s&r.mask]
	}
	r.buf, r.mask = nb, nm
}

// reclaim frees finished requests at the head.
func (r *reqRing) reclaim() {
	for r.head < r.tail && r.buf[r.head&r.mask].state == reqDone {
		r.buf[r.head&r.mask].pod = nil
		r.head++
	}
}

// seqRing is a growable FIFO of request sequence numbers (a pod's CPU stage or queue).
type seqRing struct {
	buf  []uint64
	head int
	n    int
}

func (q *seqRing) len() int { return q.n }

func (q *seqRing) push(s uint64) {
	if q.n == len(q.buf) {
		nb := make([]uint64, max(16, 2*len(q.buf)))
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	i := q.head + q.n
	if i >= len(q.buf) {
		i -= len(q.buf)
	}
	q.buf[i] = s
	q.n++
}

func (q *seqRing) front() uint64 { return q.buf[q.head] }

// at returns the i-th oldest element (0 = front).
func (q *seqRing) at(i int) uint64 {
	j := q.head + i
	if j >= len(q.buf) {
		j -= len(q.buf)
	}
	return q.buf[j]
}

func (q *seqRing) pop() uint64 {
	s := q.buf[q.head]
	q.head++
	if q.head == len(q.buf) {
		q.head = 0
	}
	q.n--
	return s
}

func (q *seqRing) clear() { q.head, q.n = 0, 0 }
