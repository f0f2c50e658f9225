package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/scalelab/scalelab/framework"
)

// palette is the Okabe–Ito colour-blind-safe palette (without yellow, which vanishes on
// white), after a dark grey reserved for the baseline.
var palette = []color.Color{
	rgb(0x44, 0x44, 0x44), // baseline
	rgb(0x00, 0x72, 0xB2), // blue
	rgb(0xD5, 0x5E, 0x00), // vermillion
	rgb(0x00, 0x9E, 0x73), // bluish green
	rgb(0xCC, 0x79, 0xA7), // reddish purple
	rgb(0xE6, 0x9F, 0x00), // orange
	rgb(0x56, 0xB4, 0xE9), // sky blue
	rgb(0x99, 0x99, 0x33), // olive
}

func rgb(r, g, b uint8) color.Color { return color.RGBA{R: r, G: g, B: b, A: 255} }

func colorAt(i int) color.Color { return palette[i%len(palette)] }

func withAlpha(c color.Color, a uint8) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: a}
}

// fontSize is the base font size of every text in a figure.
const fontSize = 11

func textStyle(size vg.Length) text.Style {
	return text.Style{Color: color.Black, Font: font.From(plot.DefaultFont, size), Handler: plot.DefaultTextHandler,
		XAlign: draw.XLeft, YAlign: draw.YCenter}
}

// newPlot returns a plot with the report's fonts, axis labels and horizontal grid lines.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = fontSize + 1
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = fontSize
		a.Tick.Label.Font.Size = fontSize - 1
	}
	p.Y.Tick.Marker = preciseTicks{}
	g := plotter.NewGrid()
	g.Vertical.Color = nil
	g.Horizontal.Color = color.Gray{Y: 225}
	p.Add(g)
	return p
}

// preciseTicks are gonum's default tick positions with labels written with as many
// decimals as the tick spacing needs (gonum may print 1.94 twice for 1.9395 and 1.9405,
// or 3e+03 for 3000).
type preciseTicks struct{}

func (preciseTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return nil
	}
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	var major []float64
	for _, t := range ticks {
		if t.Label != "" {
			major = append(major, t.Value)
		}
	}
	if len(major) < 2 {
		return ticks
	}
	step := math.Abs(major[1] - major[0])
	big := math.Max(math.Abs(major[0]), math.Abs(major[len(major)-1]))
	for i := range ticks {
		if ticks[i].Label == "" {
			continue
		}
		ticks[i].Label = tickLabel(ticks[i].Value, step, big)
	}
	return ticks
}

// tickLabel writes v with the decimals a tick spacing of step needs; very small or very
// large scales use exponent notation.
func tickLabel(v, step, big float64) string {
	if step < 1e-4 || big >= 1e7 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	d := max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
	// A spacing like 0.25 or 0.0016 needs one decimal more than its leading digit.
	if r := step * math.Pow10(d); math.Abs(r-math.Round(r)) > 1e-6 {
		d++
	}
	if math.Abs(v) < step/1e6 {
		v = 0
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}

// legendItem is one entry of a figure's legend strip.
type legendItem struct {
	label string
	thumb plot.Thumbnailer
}

// fig is one figure: a title, a legend strip under it and a grid of plots aligned on
// their axes.
type fig struct {
	title  string
	legend []legendItem
	plots  [][]*plot.Plot
	w, h   vg.Length
	// stack, when set instead of plots, are sub-figures drawn top to bottom below the
	// title and legend, each taking a share of the height proportional to its h (for rows
	// with different numbers of plots).
	stack []*fig
}

// draw renders the figure onto c.
func (f *fig) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	top := c.Max.Y - vg.Points(6)
	if f.title != "" {
		sty := textStyle(fontSize + 2)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		c.FillText(sty, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: top}, f.title)
		top -= sty.Height(f.title) + vg.Points(4)
	}
	if len(f.legend) > 0 {
		top = drawLegendStrip(c, top, f.legend)
	}
	area := c
	area.Max.Y = top
	if len(f.stack) > 0 {
		total := vg.Length(0)
		for _, sf := range f.stack {
			total += sf.h
		}
		y := area.Max.Y
		for _, sf := range f.stack {
			h := (area.Max.Y - area.Min.Y) * sf.h / total
			sub := area
			sub.Max.Y, sub.Min.Y = y, y-h
			sf.drawPlots(sub)
			y -= h
		}
		return
	}
	f.drawPlots(area)
}

// drawPlots draws the figure's grid of plots onto area.
func (f *fig) drawPlots(area draw.Canvas) {
	if len(f.stack) > 0 {
		f.draw(area)
		return
	}
	rows := len(f.plots)
	cols := 0
	for _, r := range f.plots {
		cols = max(cols, len(r))
	}
	t := draw.Tiles{Rows: rows, Cols: cols, PadTop: vg.Points(2), PadBottom: vg.Points(4), PadLeft: vg.Points(4),
		PadRight: vg.Points(10), PadX: vg.Points(14), PadY: vg.Points(10)}
	canvases := plot.Align(f.plots, t, area)
	for i, r := range f.plots {
		for j, p := range r {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
}

// drawLegendStrip draws the items left to right, wrapping lines, below y; it returns the
// y below the strip.
func drawLegendStrip(c draw.Canvas, y vg.Length, items []legendItem) vg.Length {
	sty := textStyle(fontSize)
	thumbW, gap := vg.Points(18), vg.Points(14)
	lineH := sty.Height("Mg") + vg.Points(4)
	left := c.Min.X + vg.Points(12)
	x := left
	y -= lineH / 2
	for _, it := range items {
		w := thumbW + vg.Points(4) + sty.Width(it.label)
		if x > left && x+w > c.Max.X-vg.Points(8) {
			x = left
			y -= lineH
		}
		tc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: x, Y: y - lineH/2 + vg.Points(3)}, Max: vg.Point{X: x + thumbW, Y: y + lineH/2 - vg.Points(3)}}}
		it.thumb.Thumbnail(&tc)
		c.FillText(sty, vg.Point{X: x + thumbW + vg.Points(4), Y: y}, it.label)
		x += w + gap
	}
	return y - lineH/2 - vg.Points(2)
}

// Formats a figure is written in.
const (
	FormatPNG = "png"
	FormatSVG = "svg"
)

// save writes the figure as <dir>/<name>.png (at dpi) and, when svg is set, .svg; it
// returns the paths relative to dir's parent report folder as given by rel.
func (f *fig) save(dir, name string, dpi int, svg bool) error {
	var buf bytes.Buffer
	img := vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(dpi))
	f.draw(draw.New(img))
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return fmt.Errorf("render %s.png: %w", name, err)
	}
	if err := framework.WriteFileAtomic(filepath.Join(dir, name+".png"), buf.Bytes()); err != nil {
		return err
	}
	if !svg {
		return nil
	}
	buf.Reset()
	sc := vgsvg.New(f.w, f.h)
	f.draw(draw.New(sc))
	if _, err := sc.WriteTo(&buf); err != nil {
		return fmt.Errorf("render %s.svg: %w", name, err)
	}
	return framework.WriteFileAtomic(filepath.Join(dir, name+".svg"), buf.Bytes())
}

// fillThumb is a legend thumbnail: a filled box.
type fillThumb struct{ c color.Color }

func (t fillThumb) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(t.c, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y}})
}

// glyphThumb is a legend thumbnail: one glyph.
type glyphThumb struct{ style draw.GlyphStyle }

func (t glyphThumb) Thumbnail(c *draw.Canvas) {
	c.DrawGlyph(t.style, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: (c.Min.Y + c.Max.Y) / 2})
}

// lineThumb is a legend thumbnail: a horizontal line.
type lineThumb struct{ style draw.LineStyle }

func (t lineThumb) Thumbnail(c *draw.Canvas) {
	y := (c.Min.Y + c.Max.Y) / 2
	c.StrokeLine2(t.style, c.Min.X, y, c.Max.X, y)
}

// bars is a series of bars at x + Offset (data units) with optional error bars from Lo to
// Hi and an optional text mark beyond each bar's end.
type bars struct {
	X, Y, Lo, Hi   []float64
	Marks          []string
	Offset, Width  float64
	Fill           color.Color
	OutlineColor   color.Color
	ErrorLineWidth vg.Length
}

var _ plot.Plotter = (*bars)(nil)

// Plot draws the bars.
func (b *bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	line := draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}
	mark := textStyle(fontSize)
	mark.XAlign = draw.XCenter
	for i, y := range b.Y {
		if math.IsNaN(y) {
			continue
		}
		x0, x1 := b.X[i]+b.Offset-b.Width/2, b.X[i]+b.Offset+b.Width/2
		pts := []vg.Point{{X: trX(x0), Y: trY(0)}, {X: trX(x0), Y: trY(y)}, {X: trX(x1), Y: trY(y)}, {X: trX(x1), Y: trY(0)}}
		c.FillPolygon(b.Fill, c.ClipPolygonY(pts))
		if b.OutlineColor != nil {
			c.StrokeLines(draw.LineStyle{Color: b.OutlineColor, Width: vg.Points(0.5)}, c.ClipLinesY(append(pts, pts[0]))...)
		}
		end := y
		xc := trX(b.X[i] + b.Offset)
		if i < len(b.Lo) && !math.IsNaN(b.Lo[i]) && !math.IsNaN(b.Hi[i]) {
			lo, hi := trY(b.Lo[i]), trY(b.Hi[i])
			capW := (trX(x1) - trX(x0)) / 4
			c.StrokeLines(line, c.ClipLinesY([]vg.Point{{X: xc, Y: lo}, {X: xc, Y: hi}},
				[]vg.Point{{X: xc - capW, Y: lo}, {X: xc + capW, Y: lo}}, []vg.Point{{X: xc - capW, Y: hi}, {X: xc + capW, Y: hi}})...)
			if y >= 0 {
				end = math.Max(y, b.Hi[i])
			} else {
				end = math.Min(y, b.Lo[i])
			}
		}
		if i < len(b.Marks) && b.Marks[i] != "" {
			if end >= 0 {
				mark.YAlign = draw.YBottom
				c.FillText(mark, vg.Point{X: xc, Y: trY(end) + vg.Points(1)}, b.Marks[i])
			} else {
				mark.YAlign = draw.YTop
				c.FillText(mark, vg.Point{X: xc, Y: trY(end) - vg.Points(1)}, b.Marks[i])
			}
		}
	}
}

// DataRange covers the bars, zero, the error bars and room for the marks.
func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, ymin, ymax = math.Inf(1), math.Inf(-1), 0, 0
	for i, y := range b.Y {
		xmin = math.Min(xmin, b.X[i]+b.Offset-b.Width/2)
		xmax = math.Max(xmax, b.X[i]+b.Offset+b.Width/2)
		for _, v := range []float64{y, at(b.Lo, i), at(b.Hi, i)} {
			if !math.IsNaN(v) {
				ymin, ymax = math.Min(ymin, v), math.Max(ymax, v)
			}
		}
	}
	if len(b.Marks) > 0 {
		pad := 0.08 * (ymax - ymin)
		if ymax > 0 {
			ymax += pad
		}
		if ymin < 0 {
			ymin -= pad
		}
	}
	return
}

func at(xs []float64, i int) float64 {
	if i < len(xs) {
		return xs[i]
	}
	return math.NaN()
}

// points are x, y values with optional error half-widths, for scatter plots with error
// bars.
type points struct {
	x, y, xerr, yerr []float64
}

func (p points) Len() int                        { return len(p.x) }
func (p points) XY(i int) (float64, float64)     { return p.x[i], p.y[i] }
func (p points) XError(i int) (float64, float64) { return p.xerr[i], p.xerr[i] }
func (p points) YError(i int) (float64, float64) { return p.yerr[i], p.yerr[i] }

func lineStyle(c color.Color, w float64) draw.LineStyle {
	return draw.LineStyle{Color: c, Width: vg.Points(w)}
}

// plainLine is a line without glyph boxes: plotter.Line reports a box per point, and
// points beyond an axis limit (a log axis' floor) would make plot.Align shrink the plot.
type plainLine struct{ l *plotter.Line }

func (p plainLine) Plot(c draw.Canvas, plt *plot.Plot) { p.l.Plot(c, plt) }

func (p plainLine) DataRange() (xmin, xmax, ymin, ymax float64) { return p.l.DataRange() }

// line returns a line through xs, ys (NaN points skipped).
func line(xs, ys []float64, style draw.LineStyle) plainLine {
	xy := make(plotter.XYs, 0, len(xs))
	for i := range xs {
		if !math.IsNaN(xs[i]) && !math.IsNaN(ys[i]) && !math.IsInf(ys[i], 0) {
			xy = append(xy, plotter.XY{X: xs[i], Y: ys[i]})
		}
	}
	return plainLine{&plotter.Line{XYs: xy, LineStyle: style}}
}

// stepLine returns a step function through xs, ys: the value ys[i] holds until xs[i+1].
func stepLine(xs, ys []float64, end float64, style draw.LineStyle) plainLine {
	xy := make(plotter.XYs, 0, 2*len(xs))
	for i := range xs {
		if math.IsNaN(ys[i]) {
			continue
		}
		next := end
		if i+1 < len(xs) {
			next = xs[i+1]
		}
		xy = append(xy, plotter.XY{X: xs[i], Y: ys[i]}, plotter.XY{X: next, Y: ys[i]})
	}
	return plainLine{&plotter.Line{XYs: xy, LineStyle: style}}
}

// vline is a vertical line at x across the plot.
type vline struct {
	x     float64
	style draw.LineStyle
	label string
}

func (v vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(v.x)
	if x < c.Min.X || x > c.Max.X {
		return
	}
	c.StrokeLine2(v.style, x, c.Min.Y, x, c.Max.Y)
	if v.label != "" {
		sty := textStyle(fontSize - 2)
		sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
		sty.Color = v.style.Color
		c.FillText(sty, vg.Point{X: x + vg.Points(2), Y: c.Max.Y - vg.Points(2)}, v.label)
	}
}
