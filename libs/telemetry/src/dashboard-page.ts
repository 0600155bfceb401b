// The dashboard page served at / of the metrics endpoint: one static HTML document with inline CSS
// and JS (no external CDN) that polls /status.json and renders node, workers, traffic, drops by
// reason, gauges, the shards (cluster members and the owner and epoch of each shard, or this node's
// shards serving or standing by) and a timeline: the node's control-plane events (takeovers with their
// time, hand-overs, fences, rejoins; each takeover linked to its trace when `tracesUi` is set) and the
// restarts the page has seen, and the steps of `xlat64 drill` runs (linked to the drill's trace).
export const dashboardHtml = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>xlat64 dashboard</title>
<style>
body{font:14px system-ui,sans-serif;margin:16px;background:#f6f7f9;color:#1d232b}
h1{font-size:20px;margin:0 0 8px} h2{font-size:15px;margin:0 0 6px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px}
.card{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:10px}
table{border-collapse:collapse;width:100%} td,th{padding:2px 6px;text-align:left;border-bottom:1px solid #eee}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#c0392b;height:10px;display:inline-block}
.cell{display:inline-block;width:26px;height:26px;margin:1px;border-radius:3px;font-size:10px;text-align:center;line-height:26px}
#err{color:#c0392b}
</style></head><body>
<h1>xlat64 <span id="role"></span></h1>
<div id="node"></div><div id="err"></div>
<div class="grid">
<div class="card"><h2>Traffic</h2><table id="traffic"></table></div>
<div class="card"><h2>Drops by reason</h2><table id="drops"></table></div>
<div class="card"><h2>State</h2><table id="state"></table></div>
<div class="card"><h2>Workers</h2><table id="workers"></table></div>
<div class="card"><h2>Pool use per address</h2><div id="pool"></div></div>
<div class="card"><h2>Shards</h2><div id="members"></div><table id="shards"></table></div>
<div class="card"><h2>Timeline</h2><table id="timeline"></table></div>
</div>
<script>
"use strict";
const timeline = [];
let last = null;
function esc(s){return String(s).replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));}
function rows(pairs){return pairs.map(([k,v])=>"<tr><td>"+esc(k)+"</td><td class=n data-name=\\""+esc(k)+"\\">"+esc(v)+"</td></tr>").join("");}
function render(doc){
  const c = doc.counters || {};
  document.getElementById("role").textContent = doc.role + " on " + (doc.device || doc.interface || "?") + (doc.io ? " (" + doc.io + (doc.xdpMode ? " " + doc.xdpMode : "") + ")" : "");
  document.getElementById("node").textContent = "pid " + doc.pid + ", started " + doc.startedAt;
  const traffic = ["rx.packets","rx.bytes","tx.packets64","tx.bytes64","tx.packets46","tx.bytes46","tx.replies"];
  document.getElementById("traffic").innerHTML = rows(traffic.map(k=>[k, c[k] || 0]));
  const drops = Object.entries(c).filter(([k,v])=>k.startsWith("drop.") && v>0).sort((a,b)=>b[1]-a[1]);
  const max = drops.length ? drops[0][1] : 1;
  document.getElementById("drops").innerHTML = drops.length ? drops.map(([k,v])=>"<tr><td>"+esc(k.slice(5))+"</td><td class=n data-name=\\""+esc(k)+"\\">"+v+"</td><td><span class=bar style=\\"width:"+Math.max(2,Math.round(120*v/max))+"px\\"></span></td></tr>").join("") : "<tr><td>no drops</td></tr>";
  const state = Object.entries(c).filter(([k])=>k.startsWith("nat.")||k.startsWith("events."));
  document.getElementById("state").innerHTML = state.length ? rows(state) : "<tr><td>stateless role</td></tr>";
  const ws = Array.isArray(doc.perQueue) ? doc.perQueue : [c];
  document.getElementById("workers").innerHTML = "<tr><th>worker</th><th>rx</th><th>6to4</th><th>4to6</th><th>drops</th></tr>" + ws.map((w,i)=>{const d=Object.entries(w).filter(([k])=>k.startsWith("drop.")).reduce((a,[,v])=>a+v,0);return "<tr><td>"+i+"</td><td class=n>"+(w["rx.packets"]||0)+"</td><td class=n>"+(w["tx.packets64"]||0)+"</td><td class=n>"+(w["tx.packets46"]||0)+"</td><td class=n>"+d+"</td></tr>";}).join("");
  const pool = doc.poolUse || [];
  document.getElementById("pool").innerHTML = pool.length ? pool.map(p=>{const h=Math.round(120-120*Math.min(1,p.used));return "<span class=cell data-address=\\""+esc(p.address)+"\\" title=\\""+esc(p.address+": "+p.leasedBlocks+"/"+p.totalBlocks+" blocks, "+p.portsInUse+" ports")+"\\" style=\\"background:hsl("+h+",70%,60%)\\">"+Math.round(100*p.used)+"</span>";}).join("") : "<span>pool " + esc(JSON.stringify(doc.pool4 || [])) + ": per-address use not reported by this node</span>";
  renderShards(doc);
  if (last === null || last.startedAt !== doc.startedAt) timeline.unshift({at: new Date().toISOString(), html: esc((last === null ? "seen " : "restart: ") + doc.role + " pid " + doc.pid)});
  last = doc;
  const events = (doc.events || []).map(e=>({at: e.at, html: eventHtml(doc, e)}));
  const all = events.concat(timeline).sort((a,b)=>a.at < b.at ? 1 : a.at > b.at ? -1 : 0).slice(0,30);
  document.getElementById("timeline").innerHTML = all.map(r=>"<tr><td>"+esc(r.at.replace("T"," ").slice(0,23))+"</td><td>"+r.html+"</td></tr>").join("");
  document.body.dataset.loaded = "1";
}
function eventHtml(doc, e){
  const base = doc.tracesUi ? doc.tracesUi.replace(/\\/$/, "") : "";
  if (e.kind === "drill") {
    let text = "drill " + (e.index + 1) + " " + e.step + ": " + e.fault + " of " + e.node;
    if (e.step === "takeover") text += ", taken over by " + e.takeoverBy + " after " + e.takeoverMs + " ms";
    if (e.step === "end") text += ", " + e.survived + " flows survived, " + e.broken + " broke";
    let html = "<span data-event=\\"drill\\" data-drill-step=\\""+esc(e.step)+"\\">"+esc(text)+"</span>";
    if (base && e.traceId) html += " <a class=trace href=\\""+esc(base + "/trace/" + e.traceId)+"\\">trace</a>";
    return html;
  }
  let text = e.kind + " shard " + e.shard + " epoch " + e.epoch + (e.takeoverMs !== undefined ? ", " + e.takeoverMs + " ms" : "");
  let html = "<span data-event=\\""+esc(e.kind)+"\\" data-shard=\\""+e.shard+"\\" data-epoch=\\""+e.epoch+"\\">"+esc(text)+"</span>";
  if (base && e.kind === "takeover") {
    const tags = JSON.stringify({"xlat64.shard": String(e.shard), "xlat64.epoch": String(e.epoch)});
    const href = base + "/search?service=xlat64-plat&operation=state.takeover&tags=" + encodeURIComponent(tags);
    html += " <a class=trace href=\\""+esc(href)+"\\">trace</a>";
  }
  return html;
}
function renderShards(doc){
  const cl = doc.cluster, rep = doc.replication;
  let members = "", table = "";
  if (cl) {
    members = "node " + esc(cl.nodeId) + ", members: " + (cl.members || []).map(m=>m === cl.nodeId ? "<b>"+esc(m)+"</b>" : esc(m)).join(", ") + ", table v" + esc(cl.tableVersion);
    table = "<tr><th>shard</th><th>owner</th><th>epoch</th></tr>" + (cl.owners || []).map((o,i)=>"<tr><td>"+i+"</td><td data-shard-owner=\\""+i+"\\">"+(o === cl.nodeId ? "<b>"+esc(o)+"</b>" : esc(o))+"</td><td class=n>"+esc((cl.epochs || [])[i])+"</td></tr>").join("");
  } else if (Array.isArray(rep)) {
    members = "cluster state (hot standby): this node's shards";
    table = "<tr><th>shard</th><th>role</th><th>epoch</th><th>standby lag ms</th><th>last takeover ms</th></tr>" + rep.map(r=>"<tr><td>"+r.shard+"</td><td data-shard-role=\\""+r.shard+"\\">"+(r.serving ? "serving" : "standby")+"</td><td class=n data-shard-epoch=\\""+r.shard+"\\">"+r.epoch+"</td><td class=n>"+Math.round(1000*(r.standbyLagSecondsLast||0))+"</td><td class=n>"+Math.round(1000*(r.takeoverSeconds||0))+"</td></tr>").join("");
  } else {
    members = doc.role === "plat" ? "embedded state: one node" : "stateless role";
  }
  document.getElementById("members").innerHTML = members;
  document.getElementById("shards").innerHTML = table;
}
async function poll(){
  try { const r = await fetch("status.json", {cache:"no-store"}); render(await r.json()); document.getElementById("err").textContent=""; }
  catch (e) { document.getElementById("err").textContent = "status unavailable: " + e; }
}
poll(); setInterval(poll, 2000);
</script></body></html>
`;
