package scale

// floor is what the min and spare step adds: creates, and notes when a
// limit stops them.
type floor struct {
	creates []Create
	notes   []Reason
}

// keepMin creates VMs of the cheapest offers with room while fewer than Min
// are live, counting those created this decision; it returns how many it
// created.
func keepMin(k Knobs, cat *catalog, live int, led *ledger) (floor, int) {
	want := k.Min - live - led.created
	if want <= 0 {
		return floor{}, 0
	}
	f, made, stop := fill(cat.byPref, want, Reason{Kind: CreateForMin, Min: k.Min, Live: live, Planned: led.created}, cat, led)
	if made < want {
		f.notes = []Reason{{Kind: NoteMinShort, Min: k.Min, Wanted: want - made, Blocks: stop}}
	}
	return f, made
}

// keepSpare creates VMs of the largest offer (without GPUs, when there is
// one; at equal size the cheapest) while fewer than Spare nodes are unused
// by demand (have; VMs created for min count, since they will be idle). A
// spare node is there so the next job starts without a boot: it must be
// able to take whatever comes, which the cheapest flavor often cannot.
func keepSpare(k Knobs, cat *catalog, have int, led *ledger) floor {
	want := k.Spare - have
	if want <= 0 {
		return floor{}
	}
	f, made, stop := fill(cat.bySize, want, Reason{Kind: CreateForSpare, Spare: k.Spare, Have: have}, cat, led)
	if made < want {
		f.notes = []Reason{{Kind: NoteSpareShort, Spare: k.Spare, Wanted: want - made, Blocks: stop}}
	}
	return f
}

// fill creates up to want VMs of the offers in order with room, each for
// why (with its Count and Offer set), booked in led, and returns them, how
// many VMs they are and the limits that stopped the rest.
func fill(order []int, want int, why Reason, cat *catalog, led *ledger) (floor, int, []Block) {
	var f floor
	made := 0
	var stop []Block
	for _, oi := range order {
		if made == want {
			break
		}
		if n, lim := led.globalRoom(); n == 0 {
			stop = []Block{led.block(oi, lim, "")}
			break
		}
		room, lim, bind := led.room(oi)
		if room <= 0 {
			stop = addBlock(stop, led.block(oi, lim, bind))
			continue
		}
		n := min(room, want-made)
		led.take(oi, n)
		why.Count, why.Offer = n, cat.offers[oi].OfferKey
		f.creates = append(f.creates, Create{Offer: why.Offer, Count: n, Reason: why})
		made += n
	}
	return f, made, stop
}

// spare counts the nodes demand does not use: idle joined ones and
// requested or booting ones that the packing left unused and that are not
// drained.
func spare(bs []bin, used, gone []bool) int {
	n := 0
	for i, b := range bs {
		if b.kind > 0 && !used[i] && !gone[b.node] {
			n++
		}
	}
	return n
}
