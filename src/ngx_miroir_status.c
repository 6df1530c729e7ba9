/*
 * ngx_miroir_status.c -- what an operator looks at: GET /_miroir/health
 * (green / yellow / red with reasons), GET /_miroir/status (one JSON with
 * nodes, their load and the shard map, for the status page) and
 * GET /_miroir/ui (the status page itself, no external assets).
 */

#include "ngx_miroir.h"
#include "ngx_miroir_rebalance.h"

#include "miroir_filter.h"


static ngx_int_t ngx_miroir_health_level(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_shm_cluster_t *sc, ngx_log_t *log, ngx_int_t *missing,
    ngx_int_t *below);


/* The page: inline CSS and JavaScript, it asks for the master key. */
static u_char  ngx_miroir_ui_page[] =
"<!DOCTYPE html>\n"
"<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
"<title>Miroir status</title>\n"
"<style>\n"
"body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;"
"color:#1d2330}\n"
"header{background:#1d2330;color:#fff;padding:12px 20px;display:flex;"
"gap:16px;align-items:center}\n"
"header h1{font-size:18px;margin:0}\n"
"main{padding:16px 20px}\n"
".badge{padding:2px 10px;border-radius:10px;font-weight:600}\n"
".green{background:#2e9e5b;color:#fff}.yellow{background:#e0b020}"
".red{background:#c93a3a;color:#fff}\n"
"table{border-collapse:collapse;background:#fff;margin:8px 0 16px}\n"
"td,th{padding:6px 12px;border-bottom:1px solid #e3e6eb;text-align:left}\n"
"#map{display:grid;grid-template-columns:repeat(64,12px);gap:1px;"
"background:#fff;padding:6px;width:max-content}\n"
"#map div{width:12px;height:12px}\n"
".legend span{display:inline-block;width:12px;height:12px;"
"margin:0 4px 0 12px;vertical-align:middle}\n"
"#err{color:#c93a3a}\n"
"</style></head><body>\n"
"<header><h1>Miroir</h1><span id=\"cluster\"></span>"
"<span id=\"health\" class=\"badge\"></span><span id=\"version\"></span>"
"</header>\n"
"<main>\n"
"<form id=\"login\" hidden><label>Master key "
"<input id=\"key\" type=\"password\" autocomplete=\"off\"></label> "
"<button>Show</button></form>\n"
"<p id=\"err\"></p>\n"
"<p id=\"reasons\"></p>\n"
"<h2>Nodes</h2>\n"
"<table id=\"nodes\"><thead><tr><th>node</th><th>address</th>"
"<th>weight</th><th>state</th><th>health</th><th>primary shards</th>"
"<th>replica shards</th><th>requests</th><th>errors</th>"
"<th>in flight</th></tr></thead><tbody></tbody></table>\n"
"<h2>Shards <small id=\"shardinfo\"></small></h2>\n"
"<p>Each square is a shard, coloured by its primary node; "
"hover for its owners.</p>\n"
"<div class=\"legend\" id=\"legend\"></div>\n"
"<div id=\"map\"></div>\n"
"<h2>Rebalance</h2><p id=\"rebalance\"></p>\n"
"</main>\n"
"<script>\n"
"'use strict';\n"
"const colors=['#4e79a7','#f28e2b','#e15759','#76b7b2','#59a14f',"
"'#edc948','#b07aa1','#ff9da7','#9c755f','#bab0ac'];\n"
"function color(i){return colors[i%colors.length];}\n"
"function key(){const h=new URLSearchParams(location.hash.slice(1));"
"if(h.get('key')){sessionStorage.setItem('miroirKey',h.get('key'));"
"history.replaceState(null,'',location.pathname);}"
"return sessionStorage.getItem('miroirKey')||'';}\n"
"function text(id,t){document.getElementById(id).textContent=t;}\n"
"async function load(){\n"
" const k=key();\n"
" const r=await fetch('status',{headers:k?{Authorization:'Bearer '+k}:{}});\n"
" if(r.status===401||r.status===403){"
"document.getElementById('login').hidden=false;"
"text('err',r.status===403?'Wrong master key.':'');return;}\n"
" const s=await r.json();\n"
" document.getElementById('login').hidden=true;text('err','');\n"
" text('cluster',s.cluster);text('version','topology v'+s.version);\n"
" const h=document.getElementById('health');h.textContent=s.health;"
"h.className='badge '+s.health;\n"
" text('reasons',s.reasons.join('; '));\n"
" const tb=document.querySelector('#nodes tbody');tb.replaceChildren();\n"
" s.nodes.forEach((n,i)=>{const tr=document.createElement('tr');"
"tr.className='node';"
"[n.id,n.address,n.weight,n.state,n.health,n.primaries,n.replicas,"
"n.requests,n.errors,n.outstanding].forEach((v,j)=>{"
"const td=document.createElement('td');td.textContent=v;"
"if(j===0)td.style.borderLeft='6px solid '+color(i);"
"if(j===4&&v==='down')td.style.color='#c93a3a';tr.appendChild(td);});"
"tb.appendChild(tr);});\n"
" const lg=document.getElementById('legend');lg.replaceChildren();\n"
" s.nodes.forEach((n,i)=>{const sp=document.createElement('span');"
"sp.style.background=color(i);lg.appendChild(sp);"
"lg.appendChild(document.createTextNode(n.id));});\n"
" const m=document.getElementById('map');m.replaceChildren();\n"
" s.owners.forEach((o,sh)=>{const d=document.createElement('div');"
"d.style.background=color(o[0]);"
"if(o.some(x=>s.nodes[x].health==='down'))d.style.opacity='0.35';"
"d.title='shard '+sh+': '+o.map(x=>s.nodes[x].id).join(', ');"
"m.appendChild(d);});\n"
" text('shardinfo',s.shards+' shards, replication '+s.replication);\n"
" const rb=s.rebalance,pg=rb&&rb.progress;\n"
" text('rebalance',!rb?'Unknown.':rb.state==='idle'?"
"'No rebalance in progress.':'Rebalance '+rb.state+': '+pg.shardsDone+"
"' of '+pg.shardsTotal+' shard moves done, '+pg.documentsCopied+"
"' documents copied'+(pg.etaSeconds!=null?', about '+"
"Math.round(pg.etaSeconds)+' s left':'')+(pg.errors?', '+pg.errors+"
"' errors':'')+'.');\n"
"}\n"
"document.getElementById('login').addEventListener('submit',e=>{"
"e.preventDefault();sessionStorage.setItem('miroirKey',"
"document.getElementById('key').value);load();});\n"
"load().catch(e=>text('err',String(e)));\n"
"setInterval(()=>load().catch(e=>text('err',String(e))),5000);\n"
"</script></body></html>\n";


ngx_int_t
ngx_miroir_ui_handler(ngx_http_request_t *r)
{
    ngx_str_t  type = ngx_string("text/html; charset=utf-8");
    ngx_str_t  body;

    body.data = ngx_miroir_ui_page;
    body.len = sizeof(ngx_miroir_ui_page) - 1;

    return ngx_miroir_send_raw(r, NGX_HTTP_OK, &type, &body);
}


static ngx_miroir_shm_cluster_t *
ngx_miroir_status_snapshot(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl)
{
    ngx_miroir_shm_cluster_t  *sc;

    sc = ngx_palloc(r->pool, offsetof(ngx_miroir_shm_cluster_t, nodes)
                             + MIROIR_MAX_NODES
                               * sizeof(ngx_miroir_shm_node_t));
    if (sc == NULL) {
        return NULL;
    }

    if (ngx_miroir_topology_snapshot(cl, sc) != NGX_OK) {
        return NULL;
    }

    return sc;
}


/*
 * green: every shard has all its copies on nodes that answer;
 * yellow: every shard is readable, some have fewer live copies;
 * red: some shard has no live copy.
 */
static ngx_int_t
ngx_miroir_health_level(ngx_miroir_cluster_conf_t *cl,
    ngx_miroir_shm_cluster_t *sc, ngx_log_t *log, ngx_int_t *missing,
    ngx_int_t *below)
{
    uint8_t                      down[MIROIR_MAX_NODES];
    uint32_t                     s, k;
    ngx_uint_t                   i;
    const uint16_t              *own;
    const miroir_route_table_t  *rt;

    rt = ngx_miroir_route_table(cl, log);
    if (rt == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(down, sizeof(down));

    for (i = 0; i < sc->nnodes; i++) {
        down[i] = sc->nodes[i].down ? 1 : 0;
    }

    *missing = ngx_miroir_missing_shards(cl, down, log);
    *below = 0;

    for (s = 0; s < rt->nshards; s++) {
        own = miroir_route_owners(rt, s);

        for (k = 0; k < rt->rf; k++) {
            if (down[own[k]]) {
                (*below)++;
                break;
            }
        }
    }

    return *missing > 0 ? 2 : (*below > 0 ? 1 : 0);
}


static const char  *ngx_miroir_levels[] = { "green", "yellow", "red" };


static u_char *
ngx_miroir_health_reasons(u_char *p, u_char *last,
    ngx_miroir_cluster_conf_t *cl, ngx_miroir_shm_cluster_t *sc,
    ngx_int_t missing, ngx_int_t below)
{
    ngx_uint_t  i, first;

    first = 1;

    for (i = 0; i < sc->nnodes; i++) {
        if (ngx_miroir_rebalance_evicted(cl, i)) {
            /* down_after: its shards were re-replicated elsewhere */
            p = ngx_slprintf(p, last, "%s\"node %*s is evicted (down longer "
                             "than down_after)\"", first ? "" : ",",
                             (size_t) sc->nodes[i].id_len, sc->nodes[i].id);
            first = 0;
            continue;
        }

        if (!sc->nodes[i].down) {
            continue;
        }

        p = ngx_slprintf(p, last, "%s\"node %*s is down\"", first ? "" : ",",
                         (size_t) sc->nodes[i].id_len, sc->nodes[i].id);
        first = 0;
    }

    if (below) {
        p = ngx_slprintf(p, last, "%s\"%i shard(s) have fewer than %uD live "
                         "copies\"", first ? "" : ",", below,
                         sc->replication);
        first = 0;
    }

    if (missing) {
        p = ngx_slprintf(p, last, "%s\"%i shard(s) have no live copy\"",
                         first ? "" : ",", missing);
    }

    return p;
}


ngx_int_t
ngx_miroir_health_handler(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl)
{
    u_char                    *buf, *p, *last;
    size_t                     len;
    ngx_int_t                  level, missing, below;
    ngx_uint_t                 moving, stale;
    ngx_miroir_shm_cluster_t  *sc;

    sc = ngx_miroir_status_snapshot(r, cl);
    if (sc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    level = ngx_miroir_health_level(cl, sc, r->connection->log, &missing,
                                    &below);
    if (level == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* shards being moved or with a copy that missed writes: yellow */

    ngx_miroir_rebalance_health(cl, &moving, &stale);

    if ((moving || stale) && level == 0) {
        level = 1;
    }

    len = 256 + sc->nnodes * (MIROIR_NODE_ID_LEN + 32);

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = buf + len;

    p = ngx_slprintf(buf, last, "{\"status\":\"%s\",\"reasons\":[",
                     ngx_miroir_levels[level]);
    p = ngx_miroir_health_reasons(p, last, cl, sc, missing,
                                   below);

    if (moving) {
        p = ngx_slprintf(p, last, "%s\"%ui shards are being moved\"",
                         p[-1] == '[' ? "" : ",", moving);
    }

    if (stale) {
        p = ngx_slprintf(p, last, "%s\"%ui shards have a stale copy\"",
                         p[-1] == '[' ? "" : ",", stale);
    }

    p = ngx_slprintf(p, last, "],\"shardsWithoutLiveCopy\":%i,"
                     "\"shardsBelowReplication\":%i,\"shardsMoving\":%ui,"
                     "\"shardsStale\":%ui}", missing, below, moving, stale);

    return ngx_miroir_send_json(r, NGX_HTTP_OK, buf, p - buf);
}


/* {"state": ..., "progress": {...}} from GET /_miroir/rebalance's document */
static u_char *
ngx_miroir_status_rebalance(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl, u_char *p, u_char *last)
{
    char   *text, *prog;
    cJSON  *root, *state, *progress;

    text = ngx_miroir_rebalance_status(cl, r->connection->log);
    root = text ? cJSON_Parse(text) : NULL;
    free(text);

    state = cJSON_GetObjectItemCaseSensitive(root, "state");
    progress = cJSON_GetObjectItemCaseSensitive(root, "progress");
    prog = progress ? cJSON_PrintUnformatted(progress) : NULL;

    if (cJSON_IsString(state) && prog) {
        p = ngx_slprintf(p, last, "{\"state\":\"%s\",\"progress\":%s}",
                         state->valuestring, prog);

    } else {
        p = ngx_slprintf(p, last, "null");
    }

    free(prog);
    cJSON_Delete(root);

    return p;
}


ngx_int_t
ngx_miroir_status_handler(ngx_http_request_t *r,
    ngx_miroir_cluster_conf_t *cl)
{
    u_char                      *buf, *p, *last;
    size_t                       len;
    int64_t                      outstanding;
    uint32_t                    *copies, *primaries, s, k;
    uint64_t                     requests, errors;
    ngx_int_t                    level, missing, below;
    ngx_uint_t                   i;
    const uint16_t              *own;
    ngx_miroir_shm_node_t       *sn;
    ngx_miroir_shm_cluster_t    *sc;
    const miroir_route_table_t  *rt;
    static const char           *states[] = {
        "active", "joining", "draining", "down", "removed"
    };

    sc = ngx_miroir_status_snapshot(r, cl);
    copies = ngx_pcalloc(r->pool, 2 * MIROIR_MAX_NODES * sizeof(uint32_t));
    if (sc == NULL || copies == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    primaries = copies + MIROIR_MAX_NODES;

    level = ngx_miroir_health_level(cl, sc, r->connection->log, &missing,
                                    &below);
    rt = ngx_miroir_route_table(cl, r->connection->log);

    if (level == NGX_ERROR || rt == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    miroir_route_counts(rt, copies, primaries);

    len = 2048 + sc->nnodes * (MIROIR_NODE_ID_LEN * 2 + NGX_MIROIR_ADDR_LEN
                               + 256)
          + (size_t) rt->nshards * (rt->rf * 5 + 4);

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = buf + len;

    p = ngx_slprintf(buf, last, "{\"cluster\":\"%V\",\"version\":%uL,"
                     "\"shards\":%uD,\"replication\":%uD,\"health\":\"%s\","
                     "\"reasons\":[", &cl->name, sc->version, sc->shards,
                     sc->replication, ngx_miroir_levels[level]);
    p = ngx_miroir_health_reasons(p, last, cl, sc, missing,
                                   below);
    p = ngx_slprintf(p, last, "],\"nodes\":[");

    for (i = 0; i < sc->nnodes; i++) {
        sn = &sc->nodes[i];

        ngx_miroir_metrics_node(cl, i, &requests, &errors, &outstanding);

        p = ngx_slprintf(p, last, "%s{\"id\":\"%*s\",\"address\":\"%*s\","
                         "\"weight\":%uD,\"state\":\"%s\",\"health\":\"%s\","
                         "\"primaries\":%uD,\"replicas\":%uD,"
                         "\"requests\":%uL,\"errors\":%uL,"
                         "\"outstanding\":%L}",
                         i ? "," : "", (size_t) sn->id_len, sn->id,
                         (size_t) sn->addr_len, sn->addr, sn->weight,
                         ngx_miroir_rebalance_evicted(cl, i) ? "evicted"
                         : sn->state < 5 ? states[sn->state] : "unknown",
                         sn->down ? "down" : "up", primaries[i],
                         copies[i] - primaries[i], requests, errors,
                         outstanding);
    }

    p = ngx_slprintf(p, last, "],\"owners\":[");

    for (s = 0; s < rt->nshards; s++) {
        own = miroir_route_owners(rt, s);

        p = ngx_slprintf(p, last, "%s[", s ? "," : "");

        for (k = 0; k < rt->rf; k++) {
            p = ngx_slprintf(p, last, "%s%uD", k ? "," : "",
                             (uint32_t) own[k]);
        }

        p = ngx_slprintf(p, last, "]");
    }

    /* the rebalancer's state and progress, without its per-shard detail */

    p = ngx_slprintf(p, last, "],\"rebalance\":");
    p = ngx_miroir_status_rebalance(r, cl, p, last);
    p = ngx_slprintf(p, last, "}");

    return ngx_miroir_send_json(r, NGX_HTTP_OK, buf, p - buf);
}
