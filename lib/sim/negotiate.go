package sim

import (
	"container/heap"
	"slices"
	"sort"
	"time"

	"github.com/ehos-project/ehos/lib/scale"
)

// Negotiate is one negotiation cycle at t: idle jobs, oldest first, go to
// the worker with room that HTCondor's default NEGOTIATOR_PRE_JOB_RANK
// prefers, the one with the fewest free cpus and then the least free memory
// (best fit; ties: the one that joined first), or with FirstFit the first
// worker with room in join order. Never to a draining one. A shape whose
// oldest job fits nowhere is not tried again this cycle.
func (p *Pool) Negotiate(t time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unmatched, p.resched = time.Time{}, time.Time{}
	if p.idle == 0 || len(p.workers) == 0 {
		return 0
	}
	ws := p.sortedWorkers(true)
	fit := &p.fit
	if !p.FirstFit {
		fit.fill(ws)
	}
	var h shapeHeap
	for _, s := range p.shapeList {
		if len(s.queue) > 0 {
			h = append(h, s)
		}
	}
	heap.Init(&h)
	matched := 0
	for len(h) > 0 {
		s := h[0]
		j := s.queue[0]
		n := need(j)
		var w *worker
		if p.FirstFit {
			for _, c := range ws {
				if c.free.Holds(n) {
					w = c
					break
				}
			}
		} else {
			w = fit.find(n)
		}
		if w == nil {
			heap.Pop(&h)
			continue
		}
		s.queue[0] = nil
		s.queue = s.queue[1:]
		if len(s.queue) == 0 {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
		p.idle--
		p.account(w, t)
		if !p.FirstFit {
			fit.remove(w)
		}
		w.free = w.free.Minus(n)
		if !p.FirstFit {
			fit.insert(w)
		}
		p.start(j, w, t, n, t)
		matched++
	}
	return matched
}

func add(a, b scale.Resources) scale.Resources {
	return scale.Resources{Cpus: a.Cpus + b.Cpus, MemoryMB: a.MemoryMB + b.MemoryMB, DiskMB: a.DiskMB + b.DiskMB, GPUs: a.GPUs + b.GPUs}
}

// bestFit finds, among workers, the one HTCondor's default
// NEGOTIATOR_PRE_JOB_RANK, -(100000 * Cpus) - Memory, prefers for a job:
// the slot with the fewest cpus left that holds it, then the least memory
// (best fit); ties go to the one that joined first. Workers are kept in
// buckets by free cpus, each in join order, so a job looks only at workers
// with enough cpus.
type bestFit [][]*worker

// fill empties b (keeping its buckets' room) and puts ws in.
func (b *bestFit) fill(ws []*worker) {
	for i := range *b {
		(*b)[i] = (*b)[i][:0]
	}
	for _, w := range ws {
		b.insert(w)
	}
}

func (b *bestFit) insert(w *worker) {
	c := w.free.Cpus
	if c <= 0 {
		return // holds no job (each asks at least one cpu)
	}
	for len(*b) <= c {
		*b = append(*b, nil)
	}
	ws := (*b)[c]
	i := sort.Search(len(ws), func(i int) bool { return ws[i].seq > w.seq })
	(*b)[c] = slices.Insert(ws, i, w)
}

func (b bestFit) remove(w *worker) {
	c := w.free.Cpus
	if c <= 0 {
		return
	}
	ws := b[c]
	i := sort.Search(len(ws), func(i int) bool { return ws[i].seq >= w.seq })
	b[c] = slices.Delete(ws, i, i+1)
}

func (b bestFit) find(n scale.Resources) *worker {
	for c := max(n.Cpus, 0); c < len(b); c++ {
		var best *worker
		for _, w := range b[c] {
			if w.free.Holds(n) && (best == nil || w.free.MemoryMB < best.free.MemoryMB) {
				best = w
			}
		}
		if best != nil {
			return best
		}
	}
	return nil
}

// sortedWorkers lists the workers in join order; accepting leaves out the
// draining ones, in a slice the next such call reuses.
func (p *Pool) sortedWorkers(accepting bool) []*worker {
	if !accepting {
		return p.byJoin
	}
	p.accepting = p.accepting[:0]
	for _, w := range p.byJoin {
		if !w.draining {
			p.accepting = append(p.accepting, w)
		}
	}
	return p.accepting
}
