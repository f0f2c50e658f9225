package report

import (
	"encoding/base64"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// document is a report as blocks, rendered to Markdown and to self-contained HTML from the
// same content. Inline text may use `code`, **bold** and [text](link).
type document struct {
	title  string
	blocks []block
}

type block interface{}

type heading struct {
	level int
	text  string
}

type paragraph struct{ text string }

type bullets struct{ items []string }

type table struct {
	header []string
	// right aligns the columns whose flag is set.
	right []bool
	rows  [][]string
}

// figure refers to a plot written as PNG (embedded in the HTML) and possibly SVG.
type figure struct {
	caption string
	png     string // path relative to the report's folder
	svg     string // "" when not written
}

type codeBlock struct {
	lang    string
	summary string // HTML: collapsed under this summary
	text    string
}

func (d *document) h(level int, format string, args ...any) {
	d.blocks = append(d.blocks, heading{level, fmt.Sprintf(format, args...)})
}

func (d *document) p(format string, args ...any) {
	d.blocks = append(d.blocks, paragraph{fmt.Sprintf(format, args...)})
}

func (d *document) list(items ...string) { d.blocks = append(d.blocks, bullets{items}) }

func (d *document) add(b block) { d.blocks = append(d.blocks, b) }

// Markdown renders the document as GitHub-flavoured Markdown.
func (d *document) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", d.title)
	for _, bl := range d.blocks {
		switch x := bl.(type) {
		case heading:
			fmt.Fprintf(&b, "%s %s\n\n", strings.Repeat("#", x.level), x.text)
		case paragraph:
			b.WriteString(x.text + "\n\n")
		case bullets:
			for _, it := range x.items {
				b.WriteString("- " + it + "\n")
			}
			b.WriteString("\n")
		case table:
			row := func(cells []string) {
				b.WriteString("|")
				for _, c := range cells {
					b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
				}
				b.WriteString("\n")
			}
			row(x.header)
			b.WriteString("|")
			for i := range x.header {
				if i < len(x.right) && x.right[i] {
					b.WriteString("---:|")
				} else {
					b.WriteString("---|")
				}
			}
			b.WriteString("\n")
			for _, r := range x.rows {
				row(r)
			}
			b.WriteString("\n")
		case figure:
			fmt.Fprintf(&b, "![%s](%s)\n\n", x.caption, x.png)
			if x.svg != "" {
				fmt.Fprintf(&b, "*%s* ([SVG](%s))\n\n", x.caption, x.svg)
			} else {
				fmt.Fprintf(&b, "*%s*\n\n", x.caption)
			}
		case codeBlock:
			if x.summary != "" {
				fmt.Fprintf(&b, "%s:\n\n", x.summary)
			}
			fmt.Fprintf(&b, "```%s\n%s\n```\n\n", x.lang, strings.TrimRight(x.text, "\n"))
		}
	}
	return b.String()
}

// HTML renders the document as one self-contained HTML page: PNG figures are embedded as
// base64 data URIs (read from dir), styles are inline; links to SVG files stay relative.
func (d *document) HTML(dir string) (string, error) {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n<style>\n%s</style>\n</head>\n<body>\n", html.EscapeString(d.title), css)
	fmt.Fprintf(&b, "<h1>%s</h1>\n", inline(d.title))
	for _, bl := range d.blocks {
		switch x := bl.(type) {
		case heading:
			fmt.Fprintf(&b, "<h%d id=\"%s\">%s</h%d>\n", x.level, anchor(x.text), inline(x.text), x.level)
		case paragraph:
			fmt.Fprintf(&b, "<p>%s</p>\n", inline(x.text))
		case bullets:
			b.WriteString("<ul>\n")
			for _, it := range x.items {
				fmt.Fprintf(&b, "<li>%s</li>\n", inline(it))
			}
			b.WriteString("</ul>\n")
		case table:
			b.WriteString("<div class=\"scroll\"><table>\n<thead><tr>")
			for i, h := range x.header {
				fmt.Fprintf(&b, "<th%s>%s</th>", alignAttr(x.right, i), inline(h))
			}
			b.WriteString("</tr></thead>\n<tbody>\n")
			for _, r := range x.rows {
				b.WriteString("<tr>")
				for i, c := range r {
					fmt.Fprintf(&b, "<td%s>%s</td>", alignAttr(x.right, i), inline(c))
				}
				b.WriteString("</tr>\n")
			}
			b.WriteString("</tbody>\n</table></div>\n")
		case figure:
			png, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(x.png)))
			if err != nil {
				return "", fmt.Errorf("embed figure: %w", err)
			}
			fmt.Fprintf(&b, "<figure><img alt=\"%s\" src=\"data:image/png;base64,%s\">\n<figcaption>%s",
				html.EscapeString(x.caption), base64.StdEncoding.EncodeToString(png), inline(x.caption))
			if x.svg != "" {
				fmt.Fprintf(&b, " (<a href=\"%s\">SVG</a>)", html.EscapeString(x.svg))
			}
			b.WriteString("</figcaption></figure>\n")
		case codeBlock:
			if x.summary != "" {
				fmt.Fprintf(&b, "<details><summary>%s</summary>\n", inline(x.summary))
			}
			fmt.Fprintf(&b, "<pre><code>%s</code></pre>\n", html.EscapeString(x.text))
			if x.summary != "" {
				b.WriteString("</details>\n")
			}
		}
	}
	b.WriteString("</body>\n</html>\n")
	return b.String(), nil
}

const css = `body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1,h2,h3{line-height:1.2}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .5em;white-space:nowrap}
th{background:#f3f3f3}tbody tr:nth-child(even){background:#fafafa}.r{text-align:right}.scroll{overflow-x:auto}
code{background:#f3f3f3;padding:0 .2em;border-radius:3px}pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.8em}
figure{margin:1em 0 2em}figure img{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.9em;color:#444}
`

func alignAttr(right []bool, i int) string {
	if i < len(right) && right[i] {
		return ` class="r"`
	}
	return ""
}

var (
	codeRE = regexp.MustCompile("`([^`]+)`")
	boldRE = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	linkRE = regexp.MustCompile(`\[([^\]]+)\]\(([^)\s]+)\)`)
	slugRE = regexp.MustCompile(`[^a-z0-9]+`)
)

// inline converts the Markdown subset used in report text to HTML.
func inline(s string) string {
	s = html.EscapeString(s)
	s = codeRE.ReplaceAllString(s, "<code>$1</code>")
	s = boldRE.ReplaceAllString(s, "<strong>$1</strong>")
	s = linkRE.ReplaceAllString(s, `<a href="$2">$1</a>`)
	return s
}

func anchor(s string) string {
	return strings.Trim(slugRE.ReplaceAllString(strings.ToLower(s), "-"), "-")
}
