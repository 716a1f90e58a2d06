package dashboard

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
)

// pageTmpl is the page, parsed on first use: every aim-mcp process links
// this package, and only the dashboard serves it.
var pageTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.ParseFS(assets, "assets/index.html"))
})

// page serves the one HTML page; app.js draws the part the path names.
// The CSRF token rides in a meta tag: the page's script reads it, another
// site cannot.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	name := strings.Trim(r.URL.Path, "/")
	if name == "" {
		name = "approvals"
	}
	var buf bytes.Buffer
	if err := pageTmpl().Execute(&buf, map[string]string{"CSRF": s.csrf, "Page": name}); err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

var contentTypes = map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml", ".png": "image/png"}

func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	ctype, ok := contentTypes[path.Ext(file)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	data, err := fs.ReadFile(assets, "assets/"+file)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Write(data)
}
