// Drive the demo search page (conf/instantsearch/) in headless Chromium over
// the DevTools protocol (chrome-remote-interface; the browser is Debian's
// chromium, never a downloaded one) and check what a person would see.
//
//   node t/js/instantsearch-check.mjs PAGE_URL API_URL API_KEY SCREENSHOT_DIR
//
// PAGE_URL is the page (http://host/search/), API_URL and API_KEY reach the
// same index directly, to know what the page should show.  Steps:
//   - the page loads, every request stays on the page's origin, no console
//     error and no uncaught exception;
//   - hits render (12 per page) with the total of a placeholder search;
//   - typing "harbor" into the search box narrows the hits to the movies
//     that the API finds for "harbor", highlights the match, and puts the
//     query into the URL (movies[query]=harbor);
//   - ticking a genre refines the hits to that genre;
//   - opening a URL with the routing state (?movies[query]=lighthouse)
//     shows that search directly.
// Screenshots: SCREENSHOT_DIR/instantsearch.png (after typing) and
// instantsearch-initial.png.  Output is TAP, one line per step; exit 0 only
// when every step passed.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import CDP from "chrome-remote-interface";

const [pageUrl, apiUrl, apiKey, shotDir] = process.argv.slice(2);
if (!shotDir) {
    console.error("usage: instantsearch-check.mjs PAGE_URL API_URL API_KEY SCREENSHOT_DIR");
    process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const INDEX = "movies";
const origin = new URL(pageUrl).origin;

let n = 0, failed = 0;
function report(name, problems) {
    n++;
    if (!problems.length) {
        console.log(`ok ${n} - ${name}`);
        return true;
    }
    failed++;
    console.log(`not ok ${n} - ${name}`);
    for (const p of problems) for (const l of String(p).split("\n")) console.log(`#   ${l}`);
    return false;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(body) {
    const r = await fetch(`${apiUrl}/indexes/${INDEX}/search`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${apiKey}` },
        body: JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`API search: HTTP ${r.status} ${await r.text()}`);
    return r.json();
}

// ------------------------------------------------------------- browser
const profile = mkdtempSync(join(tmpdir(), "miroir-chromium-"));
const browser = spawn(CHROMIUM, [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio",
    `--user-data-dir=${profile}`, "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1", "--window-size=1280,900", "about:blank",
], { stdio: ["ignore", "ignore", "pipe"] });

function cleanup() {
    try { browser.kill("SIGKILL"); } catch { /* gone */ }
    try { rmSync(profile, { recursive: true, force: true }); } catch { /* busy */ }
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => process.exit(1));

const port = await new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`chromium did not start:\n${err}`)), 20000);
    browser.stderr.on("data", (d) => {
        err += d;
        const m = err.match(/DevTools listening on ws:\/\/[^:]+:(\d+)\//);
        if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    browser.on("exit", (code) => reject(new Error(`chromium exited (${code}):\n${err}`)));
});

const client = await CDP({ host: "127.0.0.1", port });
const { Page, Runtime, Network, Input, Log } = client;

const consoleErrors = [];
const foreign = [];
const failedRequests = [];
Runtime.consoleAPICalled(({ type, args }) => {
    if (type === "error" || type === "assert") {
        consoleErrors.push(args.map((a) => a.value ?? a.description ?? "").join(" "));
    }
});
Runtime.exceptionThrown(({ exceptionDetails: d }) => {
    consoleErrors.push(`uncaught: ${d.exception?.description ?? d.text}`);
});
Log.entryAdded(({ entry }) => {
    if (entry.level === "error") consoleErrors.push(`${entry.source}: ${entry.text} ${entry.url ?? ""}`);
});
Network.requestWillBeSent(({ request }) => {
    const u = new URL(request.url);
    if (u.protocol !== "data:" && u.origin !== origin) foreign.push(request.url);
});
Network.responseReceived(({ response }) => {
    if (response.status >= 400) failedRequests.push(`${response.status} ${response.url}`);
});
await Promise.all([Page.enable(), Runtime.enable(), Network.enable(), Log.enable()]);

async function evaluate(fn, ...args) {
    const { result, exceptionDetails } = await Runtime.evaluate({
        expression: `(${fn})(...${JSON.stringify(args)})`,
        returnByValue: true, awaitPromise: true,
    });
    if (exceptionDetails) throw new Error(exceptionDetails.exception?.description ?? exceptionDetails.text);
    return result.value;
}

// what the page shows
const readPage = () => evaluate(() => ({
    url: location.href,
    hits: [...document.querySelectorAll(".ais-Hits-item .hit")].map((h) => ({
        id: Number(h.dataset.id),
        title: h.querySelector(".hit-title").textContent.trim(),
        titleHtml: h.querySelector(".hit-title").innerHTML,
        overview: h.querySelector(".hit-overview").textContent.trim(),
        genres: h.querySelector(".hit-genres").textContent.trim(),
    })),
    stats: document.querySelector(".ais-Stats-text")?.textContent.trim() ?? null,
    empty: document.querySelector(".no-hits")?.textContent.trim() ?? null,
    error: document.getElementById("error")?.hidden === false
        ? document.getElementById("error").textContent : null,
    genres: [...document.querySelectorAll(".ais-RefinementList-item")].map((li) => ({
        label: li.querySelector(".ais-RefinementList-labelText")?.textContent.trim(),
        count: Number(li.querySelector(".ais-RefinementList-count")?.textContent.trim()),
    })),
    pages: document.querySelectorAll(".ais-Pagination-item--page").length,
}));

// wait until pred(page) holds (or the time is up); returns the last state
async function waitFor(pred, ms = 10000) {
    const end = Date.now() + ms;
    let s;
    for (;;) {
        s = await readPage();
        if (pred(s) || Date.now() > end) return s;
        await sleep(100);
    }
}

const statsTotal = (s) => {
    const m = (s.stats || "").replace(/[,\s]/g, "").match(/^(\d+)result/);
    return m ? Number(m[1]) : null;
};

async function screenshot(name) {
    mkdirSync(shotDir, { recursive: true });
    const { data } = await Page.captureScreenshot({ format: "png" });
    writeFileSync(join(shotDir, name), Buffer.from(data, "base64"));
}

async function open(url) {
    const loaded = Page.loadEventFired();
    await Page.navigate({ url });
    await Promise.race([loaded, sleep(15000)]);
}

// ------------------------------------------------------------- steps
async function run() {
    const all = await api({ q: "", limit: 0 });
    const total = all.estimatedTotalHits;

    await open(pageUrl);
    let s = await waitFor((x) => x.hits.length > 0 || x.error || x.empty);
    await screenshot("instantsearch-initial.png");
    report("the page renders hits", [
        ...(s.error ? [`the page shows: ${s.error}`] : []),
        ...(s.hits.length === Math.min(12, total) ? []
            : [`${s.hits.length} hits rendered, expected ${Math.min(12, total)}`]),
    ]);
    report(`the stats show the placeholder total (${total})`,
           statsTotal(s) === total ? [] : [`stats: ${JSON.stringify(s.stats)}`]);
    report("the genre facet lists the genres with counts",
           s.genres.length >= 10 && s.genres.every((g) => g.label && g.count > 0) ? []
               : [`genres: ${JSON.stringify(s.genres)}`]);

    // type a query, key by key, as a person would
    const q = "harbor";
    const want = await api({ q, limit: 1000 });
    const wantIds = new Set(want.hits.map((h) => h.id));
    await evaluate(() => {
        const i = document.querySelector(".ais-SearchBox-input");
        i.focus();
        i.value = "";
    });
    for (const ch of q) {
        await Input.dispatchKeyEvent({ type: "keyDown", key: ch, text: ch, unmodifiedText: ch });
        await Input.dispatchKeyEvent({ type: "keyUp", key: ch });
        await sleep(40);
    }
    s = await waitFor((x) => statsTotal(x) === want.estimatedTotalHits
                              && x.hits.length === Math.min(12, wantIds.size)
                              && x.url.includes("query"));
    await screenshot("instantsearch.png");
    const p = [];
    if (s.error) p.push(`the page shows: ${s.error}`);
    if (!wantIds.size) p.push(`the API finds nothing for ${q}`);
    if (s.hits.length !== Math.min(12, wantIds.size)) {
        p.push(`${s.hits.length} hits, the API finds ${wantIds.size}`);
    }
    for (const h of s.hits) if (!wantIds.has(h.id)) p.push(`hit ${h.id} "${h.title}" is not an API hit for ${q}`);
    report(`typing "${q}" narrows the hits to the API's hits for it`, p);
    report(`the stats show the API's total for "${q}" (${want.estimatedTotalHits})`,
           statsTotal(s) === want.estimatedTotalHits ? [] : [`stats: ${JSON.stringify(s.stats)}`]);
    report("the match is highlighted in the titles",
           s.hits.some((h) => /<mark[^>]*>Harbor<\/mark>/i.test(h.titleHtml)) ? []
               : [`titles: ${s.hits.map((h) => h.titleHtml).join(" | ")}`]);
    report("the query is in the URL (routing)",
           decodeURIComponent(s.url).includes(`${INDEX}[query]=${q}`) ? [] : [`url ${s.url}`]);

    // refine by a genre present in the current hits
    const genre = s.genres.find((g) => g.count > 0 && g.count < wantIds.size)?.label
                  ?? s.genres[0]?.label;
    if (!genre) {
        report("ticking a genre refines the hits", ["no genre listed to tick"]);
    } else {
        const wantG = await api({ q, filter: [`genres = "${genre}"`], limit: 1000 });
        await evaluate((label) => {
            for (const li of document.querySelectorAll(".ais-RefinementList-item")) {
                if (li.querySelector(".ais-RefinementList-labelText")?.textContent.trim() === label) {
                    li.querySelector("input").click();
                    return;
                }
            }
        }, genre);
        const inUrl = (x) => decodeURIComponent(x.url).includes(`[refinementList][genres][0]=${genre}`);
        s = await waitFor((x) => statsTotal(x) === wantG.estimatedTotalHits && inUrl(x)
                                  && x.hits.every((h) => h.genres.split(", ").includes(genre)));
        const pg = [];
        if (statsTotal(s) !== wantG.estimatedTotalHits) {
            pg.push(`stats ${JSON.stringify(s.stats)}, the API finds ${wantG.estimatedTotalHits}`);
        }
        for (const h of s.hits) if (!h.genres.split(", ").includes(genre)) pg.push(`hit ${h.id} genres ${h.genres}`);
        if (!inUrl(s)) pg.push(`url ${s.url}`);
        report(`ticking genre "${genre}" refines the hits`, pg);
    }

    // a URL with the routing state opens that search
    const q2 = "lighthouse";
    const want2 = await api({ q: q2, limit: 1000 });
    await open(`${pageUrl}?${encodeURIComponent(`${INDEX}[query]`)}=${q2}`);
    s = await waitFor((x) => statsTotal(x) === want2.estimatedTotalHits && x.hits.length > 0);
    const p2 = [];
    const ids2 = new Set(want2.hits.map((h) => h.id));
    if (statsTotal(s) !== want2.estimatedTotalHits) {
        p2.push(`stats ${JSON.stringify(s.stats)}, the API finds ${want2.estimatedTotalHits}`);
    }
    for (const h of s.hits) if (!ids2.has(h.id)) p2.push(`hit ${h.id} "${h.title}"`);
    const input = await evaluate(() => document.querySelector(".ais-SearchBox-input")?.value);
    if (input !== q2) p2.push(`search box holds ${JSON.stringify(input)}`);
    report(`opening ?${INDEX}[query]=${q2} shows that search`, p2);

    report("every request stayed on the page's origin (no external assets)",
           foreign.length ? [...new Set(foreign)].slice(0, 5) : []);
    report("no failed request", failedRequests.slice(0, 5));
    report("no console error or uncaught exception", consoleErrors.slice(0, 5));
}

try {
    await run();
} catch (e) {
    report("the check ran to its end", [e?.stack ?? String(e)]);
}
try { await client.close(); } catch { /* closed */ }
console.log(`1..${n}`);
console.log(`# ${n - failed} passed, ${failed} failed`);
cleanup();
process.exit(failed ? 1 : 0);
