package bench

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Chart is a picture of a scenario's results: the report writes it as an
// SVG file beside itself and shows it before the scenario's table, so a
// reader sees the shape first. A scenario adds one with BoxChart or
// LineChart:
//
//	t.Charts = append(t.Charts, LineChart("writers-p99", "p99 change → pushed by writers",
//		"fedgen processes on one repository", "p99 (ms)", []Line{{Name: "10 s", X: writers, Y: p99s}}))
type Chart struct {
	// Name names the SVG file (<name>.svg) and must be unique in the suite.
	Name string
	// Title is the chart's title, and its alternative text in the report.
	Title string
	plot  *plot.Plot
	err   error
}

// Series is one named set of values, for BoxChart.
type Series struct {
	Name   string
	Values []float64
}

// Line is one named line of points, for LineChart.
type Line struct {
	Name string
	X, Y []float64
}

// BoxChart shows the distribution of each series as a box (quartiles,
// median, whiskers to 1.5 IQR, outliers as points), side by side in the
// order given.
func BoxChart(name, title, ylabel string, series []Series) Chart {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	names := make([]string, 0, len(series))
	for i, s := range series {
		if len(s.Values) == 0 {
			continue
		}
		b, err := plotter.NewBoxPlot(vg.Points(18), float64(len(names)), plotter.Values(s.Values))
		if err != nil {
			return Chart{Name: name, Title: title, err: fmt.Errorf("chart %s, %s: %w", name, s.Name, err)}
		}
		b.FillColor = plotutil.Color(i)
		p.Add(b)
		names = append(names, s.Name)
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 0.5
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = -1, -0.5
	p.Add(plotter.NewGrid())
	return Chart{Name: name, Title: title, plot: p}
}

// LineChart draws each line with its points marked; logX and logY put
// that axis on a logarithmic scale (every value must then be above 0).
func LineChart(name, title, xlabel, ylabel string, lines []Line, logX, logY bool) Chart {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	if logX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	if logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	p.Add(plotter.NewGrid())
	for i, l := range lines {
		if len(l.X) != len(l.Y) {
			return Chart{Name: name, Title: title, err: fmt.Errorf("chart %s, %s: %d x for %d y", name, l.Name, len(l.X), len(l.Y))}
		}
		xys := make(plotter.XYs, len(l.X))
		for j := range l.X {
			xys[j].X, xys[j].Y = l.X[j], l.Y[j]
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return Chart{Name: name, Title: title, err: fmt.Errorf("chart %s, %s: %w", name, l.Name, err)}
		}
		line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		p.Add(line, points)
		p.Legend.Add(l.Name, line, points)
	}
	p.Legend.Top = true
	return Chart{Name: name, Title: title, plot: p}
}

// HLine is a horizontal line at y across a chart's data (a goal), dashed.
func (c Chart) HLine(label string, y float64) Chart {
	if c.plot == nil {
		return c
	}
	f := plotter.NewFunction(func(float64) float64 { return y })
	f.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	f.Color = color.Gray{Y: 96}
	c.plot.Add(f)
	c.plot.Legend.Add(label, f)
	return c
}

// write saves the chart as dir/<name>.svg.
func (c Chart) write(dir string) (string, error) {
	if c.err != nil {
		return "", c.err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, c.Name+".svg")
	if err := c.plot.Save(7*vg.Inch, 4*vg.Inch, path); err != nil {
		return "", fmt.Errorf("writing chart %s: %w", c.Name, err)
	}
	return path, nil
}
