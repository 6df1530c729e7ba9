// The demo search page (conf/instantsearch/index.html): InstantSearch.js
// with Meilisearch's InstantSearch adapter, talking to the Miroir API on the
// same origin.  Bundled by t/js/build-instantsearch.mjs (esbuild) into
// build/instantsearch/app.js; the page loads nothing else from outside.
//
// Configuration, first found wins:
//   window.MIROIR_SEARCH = { host, apiKey, indexUid }   (config.js, which
//       nginx serves next to the page: conf/miroir-instantsearch.conf)
//   #key=...&index=... in the page URL
// host defaults to the page's origin, indexUid to "movies".  Give the page
// a search-only key in production; the demo passes its master key.
//
// The search state is kept in the URL (InstantSearch routing):
//   /search/?movies[query]=harbor&movies[refinementList][genres][0]=Drama

import instantsearch from "instantsearch.js";
import {
    searchBox, hits, refinementList, pagination, stats, sortBy,
    configure, clearRefinements, rangeSlider,
} from "instantsearch.js/es/widgets";
import { instantMeiliSearch } from "@meilisearch/instant-meilisearch";

const fragment = new URLSearchParams(location.hash.slice(1));
const conf = Object.assign({ host: location.origin, indexUid: "movies" },
                           fragment.get("key") ? { apiKey: fragment.get("key") } : {},
                           fragment.get("index") ? { indexUid: fragment.get("index") } : {},
                           window.MIROIR_SEARCH || {});
const index = conf.indexUid;

const { searchClient } = instantMeiliSearch(conf.host, conf.apiKey, {
    finitePagination: true,
    meiliSearchParams: { attributesToHighlight: ["title", "overview"] },
});

const search = instantsearch({
    indexName: index,
    searchClient,
    routing: true,
    future: { preserveSharedStateOnUnmount: true },
});

search.addWidgets([
    configure({ hitsPerPage: 12 }),
    searchBox({
        container: "#searchbox",
        placeholder: "Search movies: title, plot, director…",
        autofocus: true,
        showLoadingIndicator: true,
    }),
    stats({ container: "#stats" }),
    sortBy({
        container: "#sort",
        items: [
            { label: "Relevance", value: index },
            { label: "Best rated", value: `${index}:rating:desc` },
            { label: "Newest", value: `${index}:year:desc` },
            { label: "Oldest", value: `${index}:year:asc` },
        ],
    }),
    clearRefinements({ container: "#clear" }),
    refinementList({ container: "#genres", attribute: "genres", limit: 20,
                     sortBy: ["name:asc"] }),
    rangeSlider({ container: "#years", attribute: "year", pips: false }),
    hits({
        container: "#hits",
        templates: {
            item: (hit, { html, components }) => html`
                <article class="hit" data-id="${hit.id}">
                  <h2 class="hit-title">${components.Highlight({ attribute: "title", hit })}</h2>
                  <p class="hit-meta">${[
                    html`<span class="hit-year">${hit.year}</span>`,
                    html`<span class="hit-rating">★ ${hit.rating}</span>`,
                    html`<span class="hit-genres">${(hit.genres || []).join(", ")}</span>`,
                    hit.director ? html`<span class="hit-director">${hit.director}</span>` : null,
                  ].filter(Boolean).flatMap((x, i) => (i ? [" · ", x] : [x]))}</p>
                  <p class="hit-overview">${components.Highlight({ attribute: "overview", hit })}</p>
                </article>`,
            empty: (results, { html }) => html`<p class="no-hits">No movie matches “${results.query}”.</p>`,
        },
    }),
    pagination({ container: "#pagination", padding: 2 }),
]);

search.on("error", ({ error }) => {
    const el = document.getElementById("error");
    el.textContent = `Search failed: ${error && error.message ? error.message : error}`;
    el.hidden = false;
    console.error("search failed:", error);
});

search.start();
