// The official Meilisearch JavaScript client (npm "meilisearch") end to end
// against a Meilisearch-compatible API: Miroir, or one Meilisearch node.
//
//   node t/js/client-e2e.mjs URL MASTER_KEY [--reference URL KEY]
//                            [--data FILE] [--index UID]
//
// The scenario creates an index, configures its settings, adds the sample
// movies (conf/sample/movies.json, 400 documents), waits for the tasks with
// the client's own waitTask()/tasks.waitForTask(), searches (filters, sort,
// facets, offset/limit and page/hitsPerPage pagination, highlighting,
// facet search, multi-search, federated multi-search, an invalid filter),
// updates, replaces and deletes documents, reads documents and tasks back,
// and deletes the index.
//
// Every step is checked twice:
//  - against the data itself: the script keeps its own copy of the
//    documents and computes what the filters, sorts, facet counts and
//    pages must give;
//  - with --reference, against one plain Meilisearch node (or emulator
//    node) running the same scenario: the answers must be equal, ignoring
//    processingTimeMs, requestUid, task uids and dates, and the order
//    inside runs of tied hits (hits whose ranking score and sort values are
//    equal).  A tied run cut by a page boundary is compared by its keys
//    only: which of the tied documents fall on the page is not specified.
//
// Output is TAP: one "ok N - step" or "not ok N - step" line per step,
// "# " diagnostics under a failing one, and the plan "1..N" at the end.
// The exit code is 0 only when every step passed.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";
import { Meilisearch, MeilisearchApiError } from "meilisearch";

const HERE = dirname(fileURLToPath(import.meta.url));

// ------------------------------------------------------------- arguments
function usage() {
    console.error("usage: client-e2e.mjs URL MASTER_KEY [--reference URL KEY] "
                  + "[--data FILE] [--index UID]");
    process.exit(2);
}

const argv = process.argv.slice(2);
const opts = { data: resolve(HERE, "../../conf/sample/movies.json"),
               index: "movies_e2e" };
const positional = [];
for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--reference") {
        opts.refUrl = argv[++i];
        opts.refKey = argv[++i];
        if (!opts.refKey) usage();
    } else if (argv[i] === "--data") {
        opts.data = argv[++i];
    } else if (argv[i] === "--index") {
        opts.index = argv[++i];
    } else if (argv[i].startsWith("--")) {
        usage();
    } else {
        positional.push(argv[i]);
    }
}
if (positional.length !== 2) usage();

const UID = opts.index;
const target = { name: "target", client: new Meilisearch({ host: positional[0],
                                                          apiKey: positional[1] }) };
const reference = opts.refUrl
    ? { name: "reference", client: new Meilisearch({ host: opts.refUrl, apiKey: opts.refKey }) }
    : null;

// ------------------------------------------------------------- local model
const DOCS = JSON.parse(readFileSync(opts.data, "utf8"));
const model = new Map(DOCS.map((d) => [d.id, structuredClone(d)]));

const all = () => [...model.values()];
const ids = (docs) => docs.map((d) => d.id).sort((a, b) => a - b);

function sortDocs(docs, sort) {
    const rules = sort.map((s) => s.split(":"));
    return [...docs].sort((a, b) => {
        for (const [f, dir] of rules) {
            if (a[f] < b[f]) return dir === "asc" ? -1 : 1;
            if (a[f] > b[f]) return dir === "asc" ? 1 : -1;
        }
        return 0;
    });
}

function facetCounts(docs, field) {
    const out = {};
    for (const d of docs) {
        for (const v of [].concat(d[field] ?? [])) {
            const k = String(v);
            out[k] = (out[k] || 0) + 1;
        }
    }
    return out;
}

function facetStats(docs, field) {
    const vals = docs.map((d) => d[field]).filter((v) => typeof v === "number");
    return vals.length ? { min: Math.min(...vals), max: Math.max(...vals) } : undefined;
}

// ------------------------------------------------------------- comparison
// keys that differ between any two runs or deployments
const VOLATILE = new Set(["processingTimeMs", "requestUid", "taskUid", "enqueuedAt",
                          "startedAt", "finishedAt", "duration", "createdAt",
                          "updatedAt", "batchUid"]);

function stripVolatile(x) {
    if (Array.isArray(x)) return x.map(stripVolatile);
    if (x && typeof x === "object") {
        const o = {};
        for (const k of Object.keys(x).sort()) {
            if (!VOLATILE.has(k)) o[k] = stripVolatile(x[k]);
        }
        return o;
    }
    return x;
}

// The hits of one answer with tied runs made order-free.  keyOf(hit) gives
// the tie key; runs of equal keys are sorted by id.  A run touching the
// start of a page that does not start at 0 (offset > 0) or the end of a
// full page keeps only its keys: which tied documents fall on the page is
// unspecified.
function canonHits(hits, keyOf, { cutStart = false, cutEnd = false } = {}) {
    const runs = [];
    for (const h of hits) {
        const k = JSON.stringify(keyOf(h));
        const last = runs[runs.length - 1];
        if (last && last.key === k) last.hits.push(h);
        else runs.push({ key: k, hits: [h] });
    }
    return runs.map((r, i) => {
        const edge = (i === 0 && cutStart) || (i === runs.length - 1 && cutEnd);
        if (edge) return { key: r.key, count: r.hits.length, edge: true };
        const hs = [...r.hits].sort((a, b) => String(a.id ?? JSON.stringify(a))
                                        .localeCompare(String(b.id ?? JSON.stringify(b)),
                                                       "en", { numeric: true }));
        return { key: r.key, hits: stripVolatile(hs) };
    });
}

// the key of a hit: its ranking score (if shown), then its sort values
function tieKey(sort = [], extra = []) {
    const fields = sort.map((s) => s.split(":")[0]);
    return (h) => [h._rankingScore ?? null,
                   h._federation ? h._federation.weightedRankingScore : null,
                   ...fields.map((f) => h[f] ?? null),
                   ...extra.map((f) => h[f] ?? null)];
}

// a search answer with its hits canonicalised
function canonSearch(res, params = {}) {
    if (!res || !Array.isArray(res.hits)) return stripVolatile(res);
    const { hits, ...rest } = res;
    let cutStart, cutEnd;
    if (res.hitsPerPage !== undefined) {
        cutStart = res.page > 1;
        cutEnd = hits.length === res.hitsPerPage;
    } else {
        cutStart = (res.offset ?? 0) > 0;
        cutEnd = hits.length === (res.limit ?? 20);
    }
    return { ...stripVolatile(rest),
             hits: canonHits(hits, tieKey(params.sort), { cutStart, cutEnd }) };
}

function diff(a, b, path = "$", out = []) {
    if (out.length >= 6) return out;
    if (a === b) return out;
    if (typeof a !== typeof b || a === null || b === null
        || Array.isArray(a) !== Array.isArray(b) || typeof a !== "object") {
        out.push(`${path}: reference ${short(a)} / target ${short(b)}`);
        return out;
    }
    if (Array.isArray(a)) {
        if (a.length !== b.length) {
            out.push(`${path}: reference has ${a.length} elements, target ${b.length}`);
        }
        for (let i = 0; i < Math.min(a.length, b.length); i++) diff(a[i], b[i], `${path}[${i}]`, out);
        return out;
    }
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
        if (!(k in a)) out.push(`${path}.${k}: only in target: ${short(b[k])}`);
        else if (!(k in b)) out.push(`${path}.${k}: only in reference: ${short(a[k])}`);
        else diff(a[k], b[k], `${path}.${k}`, out);
        if (out.length >= 6) break;
    }
    return out;
}

function short(x) {
    const s = JSON.stringify(x);
    return s === undefined ? "undefined" : s.length > 160 ? s.slice(0, 157) + "..." : s;
}

// ------------------------------------------------------------- TAP
let n = 0;
let failed = 0;
const failedNames = [];

function report(name, problems) {
    n++;
    if (problems.length === 0) {
        console.log(`ok ${n} - ${name}`);
    } else {
        failed++;
        failedNames.push(name);
        console.log(`not ok ${n} - ${name}`);
        for (const p of problems) {
            for (const line of String(p).split("\n")) console.log(`#   ${line}`);
        }
    }
}

function describeError(e) {
    if (e instanceof MeilisearchApiError) {
        const r = e.cause ?? {};
        return `HTTP ${e.response?.status}: ${r.code ?? ""} ${e.message}`;
    }
    return `${e?.name ?? "Error"}: ${e?.message ?? e}`
        + (e?.cause ? ` (cause: ${e.cause.message ?? JSON.stringify(e.cause)})` : "");
}

// step(name, run, { check, canon }):
//   run(client, side) -> answer (on the reference first, then the target)
//   check(answer) -> list of problems, from the local model
//   canon(answer) -> what is compared between reference and target
async function step(name, run, { check = () => [], canon = stripVolatile } = {}) {
    const problems = [];
    let ref, refOk = false, tgt, tgtOk = false;
    if (reference) {
        try {
            ref = await run(reference.client, "reference");
            refOk = true;
            for (const p of check(ref)) problems.push(`reference: ${p}`);
        } catch (e) {
            problems.push(`reference failed (scenario bug?): ${describeError(e)}`);
        }
    }
    try {
        tgt = await run(target.client, "target");
        tgtOk = true;
        for (const p of check(tgt)) problems.push(p);
    } catch (e) {
        problems.push(`failed: ${describeError(e)}`);
    }
    if (reference && refOk && tgtOk) {
        const d = diff(canon(ref), canon(tgt));
        if (d.length) problems.push("differs from the reference node:", ...d);
    }
    report(name, problems);
    return tgt;
}

// a step whose answer is a finished task
async function taskStep(name, enqueue, { wait = "client", check = () => [] } = {}) {
    return step(name, async (c) => {
        const p = enqueue(c);
        const task = wait === "promise" ? await p.waitTask()
                   : await c.tasks.waitForTask(await p);
        return task;
    }, {
        check: (t) => [
            ...(t.status === "succeeded" ? [] : [`task ${t.uid} ${t.status}: ${short(t.error)}`]),
            ...check(t),
        ],
        canon: (t) => stripVolatile({ status: t.status, type: t.type, indexUid: t.indexUid,
                                      details: t.details, error: t.error }),
    });
}

function expectEq(problems, what, got, want) {
    const d = diff(stripVolatile(want), stripVolatile(got), what);
    if (d.length) problems.push(...d.map((x) => x.replace("reference", "expected")
                                                 .replace("target", "got")));
}

// ------------------------------------------------------------- scenario
const SETTINGS = {
    searchableAttributes: ["title", "overview", "director", "genres"],
    filterableAttributes: ["genres", "year", "rating"],
    sortableAttributes: ["year", "rating", "title"],
    rankingRules: ["words", "typo", "proximity", "attributeRank", "sort",
                   "wordPosition", "exactness", "rating:desc"],
};

async function search(c, params) {
    const { q, ...rest } = params;
    return c.index(UID).search(q ?? "", rest);
}

// a search whose full result set is known from the model
function searchStep(name, params, { expectDocs, order } = {}) {
    return step(name, (c) => search(c, params), {
        canon: (r) => canonSearch(r, params),
        check: (r) => {
            const p = [];
            if (!expectDocs) return p.concat(r.hits?.length ? [] : ["no hits"]);
            const docs = expectDocs();
            const total = r.totalHits ?? r.estimatedTotalHits;
            if (total !== docs.length) p.push(`total hits ${total}, expected ${docs.length}`);
            let start = 0, len = docs.length;
            if (r.hitsPerPage !== undefined) {
                start = (r.page - 1) * r.hitsPerPage;
                len = r.hitsPerPage;
                const pages = Math.ceil(docs.length / r.hitsPerPage);
                if (r.totalPages !== pages) p.push(`totalPages ${r.totalPages}, expected ${pages}`);
            } else {
                start = r.offset;
                len = r.limit;
            }
            const want = (order ? sortDocs(docs, order) : docs).slice(start, start + len);
            if (r.hits.length !== want.length) {
                p.push(`${r.hits.length} hits on the page, expected ${want.length}`);
            }
            for (const h of r.hits) {
                if (!docs.some((d) => d.id === h.id)) p.push(`hit ${h.id} does not match`);
            }
            if (order) {
                const fields = order.map((s) => s.split(":")[0]);
                const key = (d) => JSON.stringify(fields.map((f) => d[f]));
                const got = r.hits.map(key), exp = want.map(key);
                if (JSON.stringify(got) !== JSON.stringify(exp)) {
                    p.push(`sort keys ${short(got)}, expected ${short(exp)}`);
                }
            } else if (start === 0 && docs.length <= len) {
                expectEq(p, "ids", ids(r.hits), ids(docs));
            }
            return p.slice(0, 8);
        },
    });
}

async function main() {
    // leftovers of an earlier run on a long-lived server (not a step)
    for (const side of [reference, target].filter(Boolean)) {
        try {
            await side.client.deleteIndexIfExists(UID);
        } catch { /* reported by the steps below */ }
    }

    await step("health", (c) => c.health(),
               { check: (h) => (h.status === "available" ? [] : [`status ${h.status}`]) });

    // this run's tasks on each side start after its index creation
    const since = {};
    await step(`createIndex ${UID} (primary key id), tasks.waitForTask`, async (c, side) => {
        const t = await c.tasks.waitForTask(await c.createIndex(UID, { primaryKey: "id" }));
        since[side] = t.enqueuedAt;
        return t;
    }, {
        check: (t) => [...(t.status === "succeeded" ? [] : [`task ${t.uid} ${t.status}: ${short(t.error)}`]),
                       ...(t.type === "indexCreation" ? [] : [`type ${t.type}`])],
        canon: (t) => stripVolatile({ status: t.status, type: t.type, indexUid: t.indexUid,
                                      details: t.details, error: t.error }),
    });

    await step("getIndex", (c) => c.getRawIndex(UID), {
        check: (i) => (i.uid === UID && i.primaryKey === "id" ? [] : [`got ${short(i)}`]),
    });

    await taskStep("updateSettings (searchable, filterable, sortable, ranking rules), waitTask",
                   (c) => c.index(UID).updateSettings(SETTINGS), { wait: "promise" });

    await step("getSettings", (c) => c.index(UID).getSettings(), {
        check: (s) => {
            const p = [];
            for (const k of Object.keys(SETTINGS)) {
                const got = k === "rankingRules" ? s[k] : [...(s[k] ?? [])].sort();
                const want = k === "rankingRules" ? SETTINGS[k] : [...SETTINGS[k]].sort();
                expectEq(p, k, got, want);
            }
            return p;
        },
    });

    // 400 documents in 3 batches (150, 150, 100), waited for together
    await step("addDocumentsInBatches (3 tasks), tasks.waitForTasks", async (c) => {
        const enqueued = await Promise.all(c.index(UID).addDocumentsInBatches(DOCS, 150));
        const tasks = await c.tasks.waitForTasks(enqueued);
        return tasks.map((t) => ({ status: t.status, type: t.type,
                                   details: t.details, error: t.error }));
    }, {
        check: (ts) => {
            const p = [];
            if (ts.length !== 3) p.push(`${ts.length} tasks`);
            for (const t of ts) if (t.status !== "succeeded") p.push(`task ${t.status}: ${short(t.error)}`);
            const received = ts.reduce((a, t) => a + (t.details?.receivedDocuments ?? 0), 0);
            if (received !== DOCS.length) p.push(`receivedDocuments ${received}`);
            return p;
        },
    });

    await step("getStats: numberOfDocuments", (c) => c.index(UID).getStats(), {
        check: (s) => (s.numberOfDocuments === model.size ? []
                       : [`numberOfDocuments ${s.numberOfDocuments}, expected ${model.size}`]),
        canon: (s) => ({ numberOfDocuments: s.numberOfDocuments, isIndexing: s.isIndexing,
                         fieldDistribution: s.fieldDistribution }),
    });

    await searchStep("search: q=harbor (relevance, ranking score)",
                     { q: "harbor", showRankingScore: true, limit: 10 });

    await searchStep("search: filter string genres = Drama AND year > 1990",
                     { filter: "genres = Drama AND year > 1990", limit: 1000 },
                     { expectDocs: () => all().filter((d) => d.genres.includes("Drama") && d.year > 1990) });

    await searchStep("search: filter array [[Comedy OR Romance], rating >= 7]",
                     { filter: [["genres = Comedy", "genres = Romance"], "rating >= 7"], limit: 1000 },
                     { expectDocs: () => all().filter((d) => (d.genres.includes("Comedy")
                                                             || d.genres.includes("Romance"))
                                                             && d.rating >= 7) });

    await searchStep("search: sort year:desc, rating:asc",
                     { sort: ["year:desc", "rating:asc"], limit: 30 },
                     { expectDocs: all, order: ["year:desc", "rating:asc"] });

    await searchStep("search: q=night with filter year >= 1980 and sort rating:desc",
                     { q: "night", filter: "year >= 1980", sort: ["rating:desc"],
                       showRankingScore: true, limit: 20 });

    await step("search: facets genres, year, rating (distribution and stats)",
               (c) => search(c, { filter: "rating > 5", facets: ["genres", "year", "rating"], limit: 0 }), {
        check: (r) => {
            const docs = all().filter((d) => d.rating > 5);
            const p = [];
            expectEq(p, "estimatedTotalHits", r.estimatedTotalHits, docs.length);
            for (const f of ["genres", "year", "rating"]) {
                expectEq(p, `facetDistribution.${f}`, r.facetDistribution?.[f], facetCounts(docs, f));
            }
            for (const f of ["year", "rating"]) {
                expectEq(p, `facetStats.${f}`, r.facetStats?.[f], facetStats(docs, f));
            }
            return p.slice(0, 8);
        },
        canon: (r) => canonSearch(r),
    });

    await searchStep("search: offset/limit pagination (offset 40, limit 15, sort rating:desc)",
                     { sort: ["rating:desc"], offset: 40, limit: 15 },
                     { expectDocs: all, order: ["rating:desc"] });

    await searchStep("search: page/hitsPerPage pagination (page 3 of 12, year < 2000, sort year:asc)",
                     { filter: "year < 2000", sort: ["year:asc"], page: 3, hitsPerPage: 12 },
                     { expectDocs: () => all().filter((d) => d.year < 2000), order: ["year:asc"] });

    await searchStep("search: last page beyond the hits (page 40 of 12)",
                     { sort: ["year:asc"], page: 40, hitsPerPage: 12 },
                     { expectDocs: all, order: ["year:asc"] });

    await step("search: typo q=harbr, attributesToRetrieve, attributesToHighlight",
               (c) => search(c, { q: "harbr", attributesToRetrieve: ["id", "title", "year"],
                                  attributesToHighlight: ["title"], showRankingScore: true }), {
        check: (r) => {
            const p = [];
            if (!r.hits.length) p.push("no hits");
            for (const h of r.hits) {
                if (Object.keys(h).some((k) => !["id", "title", "year", "_formatted",
                                                  "_rankingScore"].includes(k))) {
                    p.push(`hit ${h.id} has ${Object.keys(h)}`);
                }
                // a typo match highlights the matched prefix: <em>Harbo</em>r
                if (!/<em>Harbo/.test(h._formatted?.title ?? "")) {
                    p.push(`hit ${h.id} not highlighted: ${short(h._formatted)}`);
                }
            }
            return p.slice(0, 6);
        },
        canon: (r) => canonSearch(r),
    });

    await step("searchForFacetValues genres ~ dra", (c) =>
        c.index(UID).searchForFacetValues({ facetName: "genres", facetQuery: "dra" }), {
        check: (r) => {
            const p = [];
            const want = facetCounts(all(), "genres").Drama;
            expectEq(p, "facetHits", r.facetHits, [{ value: "Drama", count: want }]);
            return p;
        },
    });

    const MULTI = [
        { indexUid: UID, q: "lighthouse", limit: 5, showRankingScore: true },
        { indexUid: UID, filter: "genres = Western", facets: ["year"], sort: ["year:asc"], limit: 3 },
        { indexUid: UID, sort: ["rating:desc"], page: 2, hitsPerPage: 5 },
    ];
    await step("multiSearch: 3 queries (relevance, filter+facets+sort, page)",
               (c) => c.multiSearch({ queries: MULTI }), {
        check: (r) => {
            const p = [];
            if (r.results?.length !== 3) return [`${r.results?.length} results`];
            const west = all().filter((d) => d.genres.includes("Western"));
            expectEq(p, "results[1].estimatedTotalHits", r.results[1].estimatedTotalHits, west.length);
            expectEq(p, "results[1].facetDistribution", r.results[1].facetDistribution,
                     { year: facetCounts(west, "year") });
            expectEq(p, "results[2].totalHits", r.results[2].totalHits, model.size);
            for (const x of r.results) if (x.indexUid !== UID) p.push(`indexUid ${x.indexUid}`);
            return p;
        },
        canon: (r) => ({ results: (r.results ?? []).map((x, i) => canonSearch(x, MULTI[i])) }),
    });

    await step("multiSearch: federated (2 queries, limit 10)",
               (c) => c.multiSearch({ federation: { limit: 10 },
                                      queries: [{ indexUid: UID, q: "garden" },
                                                { indexUid: UID, q: "canyon" }] }), {
        check: (r) => {
            const p = [];
            if (!r.hits?.length) p.push("no hits");
            for (const h of r.hits ?? []) {
                if (!h._federation || h._federation.indexUid !== UID) {
                    p.push(`hit ${h.id} _federation ${short(h._federation)}`);
                }
            }
            return p.slice(0, 4);
        },
        canon: (r) => {
            const { hits, ...rest } = r;
            return { ...stripVolatile(rest),
                     hits: canonHits(hits ?? [], tieKey(), { cutEnd: (hits ?? []).length === 10 }) };
        },
    });

    await step("search: invalid filter on a non-filterable attribute is a MeilisearchApiError",
               async (c) => {
        try {
            await search(c, { filter: "director = x" });
        } catch (e) {
            if (e instanceof MeilisearchApiError) {
                return { status: e.response.status, ...e.cause };
            }
            throw e;
        }
        return { status: 200 };
    }, {
        check: (e) => (e.status === 400 && e.code === "invalid_search_filter" ? []
                       : [`got ${short(e)}`]),
    });

    // ---- writes after the first load
    const upd = [];
    for (let id = 1; id <= 10; id++) {
        const d = model.get(id);
        upd.push({ id, rating: 9.9, genres: [...d.genres, "Cult"] });
    }
    await taskStep("updateDocuments (10 partial updates), waitTask",
                   (c) => c.index(UID).updateDocuments(upd), { wait: "promise" });
    for (const u of upd) Object.assign(model.get(u.id), u);

    const replaced = { id: 11, title: "The Replaced Cartographer", overview: "A replaced document.",
                       genres: ["Drama"], year: 2001, rating: 4.2 };
    await taskStep("addDocuments replaces document 11 whole, tasks.waitForTask",
                   (c) => c.index(UID).addDocuments([replaced]));
    model.set(11, structuredClone(replaced));

    await step("getDocument 5 after the partial update", (c) => c.index(UID).getDocument(5), {
        check: (d) => { const p = []; expectEq(p, "document", d, model.get(5)); return p; },
    });

    await step("getDocument 11 after the replacement (fields title, director)",
               (c) => c.index(UID).getDocument(11, { fields: ["title", "director"] }), {
        check: (d) => { const p = []; expectEq(p, "document", d, { title: replaced.title }); return p; },
    });

    await searchStep("search: filter genres = Cult sees the updates",
                     { filter: "genres = Cult", sort: ["rating:desc"], limit: 50 },
                     { expectDocs: () => all().filter((d) => d.genres.includes("Cult")),
                       order: ["rating:desc"] });

    await taskStep("deleteDocument 12", (c) => c.index(UID).deleteDocument(12));
    model.delete(12);

    await taskStep("deleteDocuments [13, 14, 15]", (c) => c.index(UID).deleteDocuments([13, 14, 15]),
                   { check: (t) => (t.details?.deletedDocuments === 3 ? []
                                    : [`deletedDocuments ${t.details?.deletedDocuments}`]) });
    for (const id of [13, 14, 15]) model.delete(id);

    const old = all().filter((d) => d.year < 1955).length;
    await taskStep("deleteDocuments by filter year < 1955",
                   (c) => c.index(UID).deleteDocuments({ filter: "year < 1955" }),
                   { check: (t) => (t.details?.deletedDocuments === old ? []
                                    : [`deletedDocuments ${t.details?.deletedDocuments}, expected ${old}`]) });
    for (const d of all()) if (d.year < 1955) model.delete(d.id);

    await step("getStats after the deletions", (c) => c.index(UID).getStats(), {
        check: (s) => (s.numberOfDocuments === model.size ? []
                       : [`numberOfDocuments ${s.numberOfDocuments}, expected ${model.size}`]),
        canon: (s) => ({ numberOfDocuments: s.numberOfDocuments }),
    });

    await step("getDocument 12 after its deletion is document_not_found", async (c) => {
        try {
            await c.index(UID).getDocument(12);
            return { status: 200 };
        } catch (e) {
            if (e instanceof MeilisearchApiError) return { status: e.response.status, ...e.cause };
            throw e;
        }
    }, { check: (e) => (e.status === 404 && e.code === "document_not_found" ? [] : [`got ${short(e)}`]) });

    await searchStep("search: placeholder total after the deletions",
                     { sort: ["year:asc", "rating:desc"], limit: 1000 },
                     { expectDocs: all, order: ["year:asc", "rating:desc"] });

    await step("getDocuments: every document (limit 1000, fields id, title, year)",
               (c) => c.index(UID).getDocuments({ limit: 1000, fields: ["id", "title", "year"] }), {
        check: (r) => {
            const p = [];
            expectEq(p, "total", r.total, model.size);
            const got = [...r.results].sort((a, b) => a.id - b.id);
            const want = ids(all()).map((id) => {
                const d = model.get(id);
                return { id, title: d.title, year: d.year };
            });
            expectEq(p, "results", got, want);
            return p.slice(0, 6);
        },
        canon: (r) => ({ ...stripVolatile(r),
                         results: [...r.results].sort((a, b) => a.id - b.id) }),
    });

    await step("getDocuments: offset 30, limit 25", (c) =>
        c.index(UID).getDocuments({ offset: 30, limit: 25 }), {
        check: (r) => {
            const p = [];
            expectEq(p, "total", r.total, model.size);
            expectEq(p, "offset/limit", [r.offset, r.limit], [30, 25]);
            if (r.results.length !== 25) p.push(`${r.results.length} results`);
            for (const d of r.results) expectEq(p, `document ${d.id}`, d, model.get(d.id));
            return p.slice(0, 6);
        },
        // which 25 documents: the order of documents is not specified
        canon: (r) => ({ total: r.total, offset: r.offset, limit: r.limit,
                         count: r.results.length }),
    });

    await step("getDocuments: filter genres = Cult", (c) =>
        c.index(UID).getDocuments({ filter: "genres = Cult", limit: 100 }), {
        check: (r) => {
            const p = [];
            const want = all().filter((d) => d.genres.includes("Cult"));
            expectEq(p, "total", r.total, want.length);
            expectEq(p, "ids", ids(r.results), ids(want));
            return p;
        },
        canon: (r) => ({ ...stripVolatile(r), results: [...r.results].sort((a, b) => a.id - b.id) }),
    });

    await step("tasks.getTasks for the index (document additions, succeeded, this run)", (c, side) =>
        c.tasks.getTasks({ indexUids: [UID], types: ["documentAdditionOrUpdate"],
                           statuses: ["succeeded"], afterEnqueuedAt: since[side] }), {
        check: (r) => {
            const p = [];
            // 3 batches, the partial update, the replacement
            if (r.results?.length !== 5) p.push(`${r.results?.length} tasks, expected 5`);
            for (const t of r.results ?? []) {
                if (t.indexUid !== UID || t.status !== "succeeded"
                    || t.type !== "documentAdditionOrUpdate") p.push(`task ${short(t)}`);
            }
            return p.slice(0, 4);
        },
        // the 3 batches were enqueued at once: their order is not specified
        canon: (r) => ({ count: r.results?.length,
                         results: (r.results ?? []).map((t) => stripVolatile(
                             { status: t.status, type: t.type, indexUid: t.indexUid,
                               details: t.details }))
                             .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))) }),
    });

    await taskStep(`deleteIndex ${UID}`, (c) => c.deleteIndex(UID));

    await step("getIndex after deleteIndex is index_not_found", async (c) => {
        try {
            await c.getRawIndex(UID);
            return { status: 200 };
        } catch (e) {
            if (e instanceof MeilisearchApiError) return { status: e.response.status, ...e.cause };
            throw e;
        }
    }, { check: (e) => (e.status === 404 && e.code === "index_not_found" ? [] : [`got ${short(e)}`]) });
}

try {
    await main();
} catch (e) {
    report("scenario ran to the end", [describeError(e), e?.stack ?? ""]);
}
console.log(`1..${n}`);
console.log(`# ${n - failed} passed, ${failed} failed`
            + (failed ? `: ${failedNames.join("; ")}` : ""));
process.exit(failed ? 1 : 0);
