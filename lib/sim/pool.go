package sim

import (
	"container/heap"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

type jobState uint8

const (
	pending jobState = iota // not submitted yet
	queued                  // idle in the schedd
	running
	done
)

// simJob is one job of the trace in the pool. A month's million of them
// are most of a run's memory, so the fields only a running job needs are
// kept narrow.
type simJob struct {
	Job
	submit time.Time
	start  time.Time // last start
	end    time.Time // when the running job finishes
	worker *worker
	shape  *shape
	killed int // times its worker vanished under it
	id     int32
	heapAt int32
	// claimed is when the claim it runs under was made (by negotiation),
	// after the pool's epoch.
	claimed time.Duration
	// slotCpus and slotMem are what the job holds on its worker (see
	// slot): its own need, or the dynamic slot of the job before it when it
	// reused that claim.
	slotCpus, slotMem int32
	state             jobState
}

func (j *simJob) slot() scale.Resources {
	return scale.Resources{Cpus: int(j.slotCpus), MemoryMB: int(j.slotMem)}
}

type shapeKey struct{ cpus, mem int }

// shape is one resource shape of idle jobs, oldest first: it plays an
// autocluster of the schedd and one EHOSDemand ad.
type shape struct {
	key   shapeKey
	name  string
	queue []*simJob // idle jobs, by submit time
	elig  []scale.OfferKey
	ver   int // offers version elig was computed for
	order int
}

type worker struct {
	last      time.Time // free cpus last changed
	name, id  string
	slot      string // its partitionable slot's name
	size      scale.Resources
	free      scale.Resources
	jobs      map[*simJob]string // running here, each with its name in RunningJobs
	idleSince time.Time
	draining  bool
	joined    time.Time
	seq       int
}

// Pool is a simulated HTCondor pool: one schedd's queue, the workers'
// startds (one partitionable slot each), a first-fit matchmaker and demand
// grouped by shape. It implements provision.Pool.
type Pool struct {
	clock *Clock
	epoch time.Time
	// FirstFit matches each job to the first worker with room instead of
	// HTCondor's default best fit. Set it before the run.
	FirstFit bool
	// ClaimWorklife is HTCondor's CLAIM_WORKLIFE: for this long after a
	// claim was made, the schedd starts the next idle job that fits on it
	// as soon as a job ends, without waiting for a negotiation. Zero: no
	// claim reuse. Set it before the run.
	ClaimWorklife time.Duration

	mu         sync.Mutex
	jobs       []*simJob // by submit time
	nextSubmit int
	shapes     map[shapeKey]*shape
	shapeList  []*shape
	workers    map[string]*worker
	byJoin     []*worker // the workers of the map, in join order (seq)
	// accepting and fit are Negotiate's, kept to reuse their room.
	accepting []*worker
	fit       bestFit
	seq       int
	finishing jobHeap
	offers    []scale.Offer
	offersVer int
	idle, run int
	finished  int
	killed    int
	calls     PoolCalls
	ran       map[string]bool // workers that ran at least one job
	// unmatched is the earliest submit since the last negotiation: the
	// schedd asks the negotiator for a cycle when jobs are submitted
	// (SUBMIT_SEND_RESCHEDULE). Zero when none.
	unmatched time.Time
	// resched is when the provisioner asked for a negotiation
	// (condor_reschedule) since the last one. Zero when it did not.
	resched time.Time
	reused  int                  // jobs started on a reused claim
	left    map[string]time.Time // when each worker's startd left
	// cpu-seconds of joined workers with no job (idle) and of free cpus
	// on workers running some job (partial)
	idleCPUs, partialCPUs float64
	// changes counts changes the provisioner could see: a job queued,
	// started or ended, a startd come or gone or draining, new offers.
	changes int
}

// account adds w's free cpus since its last change, up to t.
func (p *Pool) account(w *worker, t time.Time) {
	d := t.Sub(w.last).Seconds() * float64(w.free.Cpus)
	if d > 0 {
		if len(w.jobs) == 0 {
			p.idleCPUs += d
		} else {
			p.partialCPUs += d
		}
	}
	w.last = t
}

func (p *Pool) leave(w *worker, t time.Time) {
	p.changes++
	p.account(w, t)
	delete(p.workers, w.name)
	p.unlist(w)
	p.left[w.name] = t
}

// unlist takes w out of byJoin.
func (p *Pool) unlist(w *worker) {
	i := sort.Search(len(p.byJoin), func(i int) bool { return p.byJoin[i].seq >= w.seq })
	p.byJoin = slices.Delete(p.byJoin, i, i+1)
}

// PoolCalls counts calls the provisioner made to the pool.
type PoolCalls struct {
	Demand, Workers, Offer, Drain, Reschedule, Publish int
}

var (
	_ provision.Pool          = (*Pool)(nil)
	_ provision.RunningJobs   = (*Pool)(nil)
	_ provision.LazyPublisher = (*Pool)(nil)
)

// NewPool makes a pool that will see jobs submitted at epoch + Job.Submit.
func NewPool(clock *Clock, epoch time.Time, jobs []Job) *Pool {
	p := &Pool{clock: clock, epoch: epoch, shapes: map[shapeKey]*shape{}, workers: map[string]*worker{}, ran: map[string]bool{}, left: map[string]time.Time{}}
	for i, j := range jobs {
		p.jobs = append(p.jobs, &simJob{Job: j, id: int32(i), submit: epoch.Add(j.Submit), heapAt: -1})
	}
	return p
}

func (p *Pool) shapeOf(j *simJob) *shape {
	k := shapeKey{max(j.Cpus, 1), j.MemoryMB}
	s := p.shapes[k]
	if s == nil {
		s = &shape{key: k, name: fmt.Sprintf("sim#%dcpu-%dmb", k.cpus, k.mem), order: len(p.shapeList), ver: -1}
		p.shapes[k] = s
		p.shapeList = append(p.shapeList, s)
	}
	return s
}

// Advance brings the pool to time t: jobs submitted by then are queued,
// jobs that ended by then are done (at their own end time), in time order.
// A job that ends on a claim younger than ClaimWorklife hands its dynamic
// slot to the oldest queued job that fits in it, at once, as the schedd does;
// otherwise its resources go back to the worker. Drained workers that
// became empty leave.
func (p *Pool) Advance(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		var sub, end *simJob
		if p.nextSubmit < len(p.jobs) && !p.jobs[p.nextSubmit].submit.After(t) {
			sub = p.jobs[p.nextSubmit]
		}
		if len(p.finishing) > 0 && !p.finishing[0].end.After(t) {
			end = p.finishing[0]
		}
		switch {
		case sub == nil && end == nil:
			return
		case sub != nil && (end == nil || !sub.submit.After(end.end)):
			p.nextSubmit++
			p.enqueue(sub)
			if p.unmatched.IsZero() {
				p.unmatched = sub.submit
			}
		default:
			heap.Pop(&p.finishing)
			p.end(end)
		}
	}
}

// end finishes job j at its end time.
func (p *Pool) end(j *simJob) {
	p.changes++
	w := j.worker
	p.account(w, j.end)
	delete(w.jobs, j)
	j.state, j.worker = done, nil
	p.run--
	p.finished++
	if !w.draining && p.ClaimWorklife > 0 && j.end.Sub(p.epoch.Add(j.claimed)) < p.ClaimWorklife {
		if next := p.oldestFitting(j.slot(), j.end); next != nil {
			p.reused++
			p.start(next, w, j.end, j.slot(), p.epoch.Add(j.claimed))
			return
		}
	}
	w.free = add(w.free, j.slot())
	if len(w.jobs) == 0 {
		w.idleSince = j.end
		if w.draining {
			p.leave(w, j.end)
		}
	}
}

// oldestFitting takes out of the queue the oldest job submitted by t that
// fits in slot; nil when none does.
func (p *Pool) oldestFitting(slot scale.Resources, t time.Time) *simJob {
	var best *shape
	for _, s := range p.shapeList {
		if len(s.queue) == 0 || !slot.Holds(need(s.queue[0])) || s.queue[0].submit.After(t) {
			continue
		}
		if best == nil || s.queue[0].submit.Before(best.queue[0].submit) {
			best = s
		}
	}
	if best == nil {
		return nil
	}
	j := best.queue[0]
	best.queue[0] = nil
	best.queue = best.queue[1:]
	p.idle--
	return j
}

// start runs queued job j (already out of its queue) on w at t, holding
// slot, under a claim made at claimed.
func (p *Pool) start(j *simJob, w *worker, t time.Time, slot scale.Resources, claimed time.Time) {
	p.changes++
	p.run++
	w.jobs[j] = "schedd sim job " + strconv.Itoa(int(j.id)) + ".0"
	w.idleSince = time.Time{}
	p.ran[w.name] = true
	j.state, j.worker, j.start, j.end = running, w, t, t.Add(j.Runtime)
	j.slotCpus, j.slotMem, j.claimed = int32(slot.Cpus), int32(slot.MemoryMB), claimed.Sub(p.epoch)
	heap.Push(&p.finishing, j)
}

// NextNegotiation is when a reschedule request asks for a negotiation: the
// schedd's after a submit, or the provisioner's (Reschedule). It is the
// earliest of the first submit not yet negotiated and the provisioner's
// request, or else the next submit, plus delay. Zero when no job waits or
// comes.
func (p *Pool) NextNegotiation(delay time.Duration) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := p.unmatched
	if !p.resched.IsZero() && (first.IsZero() || p.resched.Before(first)) {
		first = p.resched
	}
	if !first.IsZero() {
		return first.Add(delay)
	}
	if p.nextSubmit < len(p.jobs) {
		return p.jobs[p.nextSubmit].submit.Add(delay)
	}
	return time.Time{}
}

// NextEvent is the next instant after t at which a job is submitted or
// ends; zero when there is none.
func (p *Pool) NextEvent() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var next time.Time
	if p.nextSubmit < len(p.jobs) {
		next = p.jobs[p.nextSubmit].submit
	}
	if len(p.finishing) > 0 && (next.IsZero() || p.finishing[0].end.Before(next)) {
		next = p.finishing[0].end
	}
	return next
}

func (p *Pool) enqueue(j *simJob) {
	s := j.shape
	if s == nil {
		s = p.shapeOf(j)
		j.shape = s
	}
	// Keep the queue in submit order (a killed job goes back in its place).
	i := len(s.queue)
	for i > 0 && s.queue[i-1].submit.After(j.submit) {
		i--
	}
	s.queue = append(s.queue, nil)
	copy(s.queue[i+1:], s.queue[i:])
	s.queue[i] = j
	j.state = queued
	p.idle++
	p.changes++
}

func need(j *simJob) scale.Resources {
	return scale.Resources{Cpus: max(j.Cpus, 1), MemoryMB: j.MemoryMB}
}

// Join adds the startd of server s at time at, with one partitionable slot
// of the size the worker template pins (provision.WorkerSize).
func (p *Pool) Join(s *Server, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	name := s.VM.Metadata["ehos_name"]
	if name == "" {
		name = s.VM.Name
	}
	size := provision.WorkerSize(s.Flavor)
	size.DiskMB = 0 // the trace does not ask for disk
	if old := p.workers[name]; old != nil {
		// joined again: the new ad replaces the old one
		p.unlist(old)
	}
	p.seq++
	w := &worker{name: name, id: s.VM.ID, slot: "slot1@" + name, size: size, free: size, jobs: map[*simJob]string{}, idleSince: at, joined: at, seq: p.seq, last: at}
	p.workers[name] = w
	p.byJoin = append(p.byJoin, w)
	p.changes++
}

// VMGone drops the startd of a deleted server. Jobs still running on it are
// killed and go back to the queue; ehos must never cause that, and Result
// counts it.
func (p *Pool) VMGone(s *Server, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	name := s.VM.Metadata["ehos_name"]
	if name == "" {
		name = s.VM.Name
	}
	w := p.workers[name]
	if w == nil {
		return
	}
	p.leave(w, at)
	for j := range w.jobs {
		heap.Remove(&p.finishing, int(j.heapAt))
		j.worker = nil
		j.killed++
		p.killed++
		p.run--
		p.enqueue(j)
	}
}

// Counts returns the idle, running and finished jobs and the jobs killed
// so far.
func (p *Pool) Counts() (idle, running, finished, killed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.idle, p.run, p.finished, p.killed
}

// Workers counts the startds present now.
func (p *Pool) NumWorkers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.workers)
}

type jobHeap []*simJob

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(a, b int) bool {
	if !h[a].end.Equal(h[b].end) {
		return h[a].end.Before(h[b].end)
	}
	return h[a].id < h[b].id
}
func (h jobHeap) Swap(a, b int) {
	h[a], h[b] = h[b], h[a]
	h[a].heapAt, h[b].heapAt = int32(a), int32(b)
}
func (h *jobHeap) Push(x any) {
	j := x.(*simJob)
	j.heapAt = int32(len(*h))
	*h = append(*h, j)
}
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	j.heapAt = -1
	return j
}

type shapeHeap []*shape

func (h shapeHeap) Len() int { return len(h) }
func (h shapeHeap) Less(a, b int) bool {
	ja, jb := h[a].queue[0], h[b].queue[0]
	if !ja.submit.Equal(jb.submit) {
		return ja.submit.Before(jb.submit)
	}
	return ja.id < jb.id
}
func (h shapeHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *shapeHeap) Push(x any)   { *h = append(*h, x.(*shape)) }
func (h *shapeHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	return s
}
