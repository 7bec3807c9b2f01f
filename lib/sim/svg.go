package sim

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// Series is one line of a plot.
type Series struct {
	Name   string
	Color  string
	Dashed bool
	Points [][2]float64 // x (seconds), y
}

// PlotSeries turns a run's samples into the usual three lines: idle jobs
// (demand), running jobs and VMs. prefix names the run in the legend.
func PlotSeries(samples []Sample, prefix string, dashed bool) []Series {
	idle := Series{Name: prefix + "idle jobs", Color: "#d95f02", Dashed: dashed}
	run := Series{Name: prefix + "running jobs", Color: "#1b9e77", Dashed: dashed}
	vms := Series{Name: prefix + "VMs", Color: "#7570b3", Dashed: dashed}
	for _, s := range samples {
		idle.Points = append(idle.Points, [2]float64{s.T, float64(s.Idle)})
		run.Points = append(run.Points, [2]float64{s.T, float64(s.Running)})
		vms.Points = append(vms.Points, [2]float64{s.T, float64(s.VMs)})
	}
	return []Series{idle, run, vms}
}

// WriteSVG draws series over time as a self-contained SVG line chart.
func WriteSVG(w io.Writer, title string, series []Series) error {
	const W, H, left, right, top, bottom = 960.0, 420.0, 60.0, 200.0, 40.0, 50.0
	pw, ph := W-left-right, H-top-bottom
	var xmax, ymax float64
	for _, s := range series {
		for _, p := range s.Points {
			xmax, ymax = math.Max(xmax, p[0]), math.Max(ymax, p[1])
		}
	}
	if xmax <= 0 {
		xmax = 1
	}
	ymax = niceCeil(math.Max(ymax, 1))
	x := func(v float64) float64 { return left + v/xmax*pw }
	y := func(v float64) float64 { return top + ph - v/ymax*ph }

	b := bufio.NewWriter(w)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(b, `<text x="%.0f" y="22" font-size="14">%s</text>`+"\n", left, html.EscapeString(title))
	// y grid and labels
	for i := 0; i <= 5; i++ {
		v := ymax * float64(i) / 5
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y(v), left+pw, y(v))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, y(v)+4, v)
	}
	// x ticks in hours (or minutes for short runs)
	unit, name := 3600.0, "h"
	if xmax < 2*3600 {
		unit, name = 600, "min"
	}
	step := math.Max(1, math.Ceil(xmax/unit/12))
	for v := 0.0; v*unit <= xmax; v += step {
		label := v
		if name == "min" {
			label = v * 10
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x(v*unit), top, x(v*unit), top+ph)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%g</text>`+"\n", x(v*unit), top+ph+18, label)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">time (%s)</text>`+"\n", left+pw/2, H-10, name)
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", left, top, pw, ph)
	for i, s := range series {
		var pts strings.Builder
		for j, p := range s.Points {
			if j > 0 {
				pts.WriteByte(' ')
			}
			fmt.Fprintf(&pts, "%.1f,%.1f", x(p[0]), y(p[1]))
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="%s"/>`+"\n", s.Color, dash, pts.String())
		ly := top + 10 + float64(i)*20
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", left+pw+12, ly, left+pw+36, ly, s.Color, dash)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+pw+42, ly+4, html.EscapeString(s.Name))
	}
	fmt.Fprintln(b, `</svg>`)
	return b.Flush()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
