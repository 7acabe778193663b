/// `GET /docs`: a self-contained page (no CDN) that reads `/openapi.json` and lists every
/// operation with its parameters, request body and responses.
enum DocsPage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>YTEmpire API</title>
    <style>
      body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 960px; padding: 24px; color: #1d2330; }
      h1 { margin-bottom: 0; } .muted { color: #667; }
      section { border: 1px solid #dde; border-radius: 8px; margin: 12px 0; padding: 10px 16px; }
      .method { display: inline-block; min-width: 64px; font-weight: 700; text-transform: uppercase; }
      .get { color: #1769aa; } .post { color: #2e7d32; } .put { color: #b26a00; } .delete { color: #c62828; }
      code, pre { font: 13px ui-monospace, monospace; background: #f5f6fa; border-radius: 4px; padding: 1px 4px; }
      pre { padding: 8px; overflow-x: auto; }
      table { border-collapse: collapse; } td { padding: 2px 12px 2px 0; vertical-align: top; }
    </style>
    </head>
    <body>
    <h1 id="title">YTEmpire API</h1>
    <p class="muted" id="subtitle">Loading /openapi.json…</p>
    <div id="operations"></div>
    <script>
    const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
    const ref = (doc, r) => r.split("/").slice(1).reduce((o, k) => o[k], doc);
    const resolve = (doc, o) => o && o.$ref ? ref(doc, o.$ref) : o;
    fetch("/openapi.json").then(r => r.json()).then(doc => {
      document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
      document.getElementById("subtitle").innerHTML = esc(doc.info.description || "") + "<br>Base URL: <code>" + esc(doc.servers[0].url) + "</code>";
      const out = [];
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(item)) {
          const params = (op.parameters || []).map(p => resolve(doc, p));
          const body = op.requestBody && resolve(doc, op.requestBody);
          const responses = Object.entries(op.responses || {}).map(([code, r]) => "<tr><td><code>" + esc(code) + "</code></td><td>" + esc(resolve(doc, r).description) + "</td></tr>").join("");
          out.push("<section><div><span class='method " + method + "'>" + method + "</span> <code>" + esc(path) + "</code></div>"
            + "<p>" + esc(op.summary || "") + (op.security && op.security.length === 0 ? " <span class='muted'>(public)</span>" : "") + "</p>"
            + (params.length ? "<p>Parameters: " + params.map(p => "<code>" + esc(p.name) + "</code> (" + esc(p.in) + ")").join(", ") + "</p>" : "")
            + (body ? "<p>Request body:</p><pre>" + esc(JSON.stringify(body.content["application/json"].schema, null, 2)) + "</pre>" : "")
            + "<table>" + responses + "</table></section>");
        }
      }
      document.getElementById("operations").innerHTML = out.join("");
    }).catch(e => { document.getElementById("subtitle").textContent = "Could not load /openapi.json: " + e; });
    </script>
    </body>
    </html>
    """#
}
