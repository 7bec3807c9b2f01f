package sim

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// WriteText writes the grid as a table, the frontier marked, then the
// recommendation and why.
func (sw *Sweep) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "sweep       %d configurations of %s on %s\n", len(sw.Points), sw.knobNames(), sw.Trace)
	if sw.Config != "" {
		fmt.Fprintf(b, "config      %s\n", sw.Config)
	}
	if sw.Seeds > 1 {
		fmt.Fprintf(b, "seeds       %d to %d: each figure is the mean of %d runs, the ranges their least and greatest\n", sw.FirstSeed, sw.FirstSeed+uint64(sw.Seeds)-1, sw.Seeds)
	}
	fmt.Fprintf(b, "lower bound %.1f flavor cost-hours\n\n", sw.Bound)
	tw := newTable(b)
	head := []string{" "}
	for _, k := range sw.Knobs {
		head = append(head, k.Name)
	}
	head = append(head, "cost")
	if sw.Seeds > 1 {
		head = append(head, "cost range")
	}
	head = append(head, "ratio", "mean wait")
	if sw.Seeds > 1 {
		head = append(head, "wait range")
	}
	tw.row(append(head, "p95 wait", "VMs created", "")...)
	for _, p := range sw.Points {
		mark := " "
		if p.Recommended {
			mark = "*"
		}
		row := append([]string{mark}, p.Values...)
		var note []string
		if p.Frontier {
			note = append(note, "frontier")
		}
		if p.Current {
			note = append(note, "current")
		}
		row = append(row, fmt.Sprintf("%.1f", p.Cost))
		if sw.Seeds > 1 {
			row = append(row, fmt.Sprintf("%.1f–%.1f", p.CostMin, p.CostMax))
		}
		if !p.Settled {
			row = append(row, "-", "-")
			if sw.Seeds > 1 {
				row = append(row, "-")
			}
			row = append(row, "-", strconv.Itoa(p.Creates))
			note = append(note, "NOT SETTLED")
		} else {
			row = append(row, fmt.Sprintf("%.3f", p.Ratio), secsDur(p.MeanWait).String())
			if sw.Seeds > 1 {
				row = append(row, secsDur(p.WaitMin).String()+"–"+secsDur(p.WaitMax).String())
			}
			row = append(row, secsDur(p.P95Wait).String(), strconv.Itoa(p.Creates))
		}
		tw.row(append(row, strings.Join(note, ", "))...)
	}
	tw.flush()
	if r := sw.Recommended(); r >= 0 {
		fmt.Fprintf(b, "\nrecommended %s: %s\n", sw.label(r), sw.Why)
	} else {
		fmt.Fprintf(b, "\n%s\n", sw.Why)
	}
	return b.Flush()
}

func (sw *Sweep) knobNames() string {
	var n []string
	for _, k := range sw.Knobs {
		n = append(n, k.Name)
	}
	return strings.Join(n, " × ")
}

// table lines up columns with two blanks between them.
type table struct {
	w    io.Writer
	rows [][]string
}

func newTable(w io.Writer) *table { return &table{w: w} }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) flush() {
	var width []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range t.rows {
		var line strings.Builder
		for i, c := range r {
			line.WriteString(c)
			if i < len(r)-1 {
				line.WriteString(strings.Repeat(" ", width[i]-len([]rune(c))+2))
			}
		}
		fmt.Fprintln(t.w, strings.TrimRight(line.String(), " "))
	}
}

// WriteSVG draws every settled point at (cost, mean wait), the frontier
// as a line through its points and the recommended point ringed.
func (sw *Sweep) WriteSVG(w io.Writer) error {
	const W, H, left, right, top, bottom = 760.0, 480.0, 70.0, 30.0, 40.0, 50.0
	pw, ph := W-left-right, H-top-bottom
	// Cost from just below the bound, wait from 0: the points, not the
	// origin, fill the plot.
	xmin, xmax, ymax := sw.Bound, sw.Bound, 1.0
	for _, p := range sw.Points {
		if p.Settled {
			xmin, xmax, ymax = math.Min(xmin, p.Cost), math.Max(xmax, p.Cost), math.Max(ymax, p.MeanWait)
		}
	}
	pad := math.Max((xmax-xmin)*0.05, 0.5)
	xmin, xmax, ymax = math.Max(xmin-pad, 0), xmax+pad, ymax*1.1
	x := func(v float64) float64 { return left + (v-xmin)/(xmax-xmin)*pw }
	y := func(v float64) float64 { return top + ph - v/ymax*ph }
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="11">`+"\n", W, H, W, H)
	fmt.Fprintf(b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(b, `<text x="%.0f" y="22" font-size="14">%s</text>`+"\n", left, html.EscapeString("ehos simulate --sweep "+sw.knobNames()+": "+sw.Trace))
	for i := 0; i <= 5; i++ {
		xv, yv := xmin+(xmax-xmin)*float64(i)/5, ymax*float64(i)/5
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%.4g</text>`+"\n", x(xv), top+ph+16, xv)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%.0f</text>`+"\n", left-6, y(yv)+4, yv)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", left, y(yv), left+pw, y(yv))
	}
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">cost (flavor cost-hours)</text>`+"\n", left+pw/2, H-10)
	fmt.Fprintf(b, `<text x="16" y="%.1f" transform="rotate(-90 16 %.1f)" text-anchor="middle">mean wait (s)</text>`+"\n", top+ph/2, top+ph/2)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="4 3"/><text x="%.1f" y="%.1f">lower bound %.1f</text>`+"\n",
		x(sw.Bound), top, x(sw.Bound), top+ph, x(sw.Bound)+4, top+12, sw.Bound)
	if sw.Goal <= ymax {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="4 3"/><text x="%.1f" y="%.1f" text-anchor="end">wait goal</text>`+"\n",
			left, y(sw.Goal), left+pw, y(sw.Goal), left+pw-4, y(sw.Goal)-4)
	} else {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">wait goal %s: above every point</text>`+"\n", left+pw-4, top+12, secsDur(sw.Goal))
	}
	var front []SweepPoint
	for _, p := range sw.Points {
		if p.Frontier {
			front = append(front, p)
		}
	}
	sort.Slice(front, func(i, j int) bool { return front[i].Cost < front[j].Cost })
	var pts []string
	for _, p := range front {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.Cost), y(p.MeanWait)))
	}
	fmt.Fprintf(b, `<polyline fill="none" stroke="#1b9e77" stroke-width="1.5" points="%s"/>`+"\n", strings.Join(pts, " "))
	for i, p := range sw.Points {
		if !p.Settled {
			continue
		}
		color := "#7570b3"
		if p.Frontier {
			color = "#1b9e77"
		}
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s</title></circle>`+"\n", x(p.Cost), y(p.MeanWait), color, html.EscapeString(sw.label(i)))
		if p.Recommended {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="8" fill="none" stroke="#d95f02" stroke-width="2"/><text x="%.1f" y="%.1f" fill="#d95f02">recommended: %s</text>`+"\n",
				x(p.Cost), y(p.MeanWait), x(p.Cost)+10, y(p.MeanWait)-10, html.EscapeString(sw.label(i)))
		}
	}
	fmt.Fprintln(b, `</svg>`)
	return b.Flush()
}
