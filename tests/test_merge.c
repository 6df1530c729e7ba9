/*
 * test_merge.c -- the single-index merge of node answers.
 *
 *  - golden: hits of every 1.50 golden step with rankKeys, split over 1-3
 *    nodes in several ways; the merge must give back the real node's
 *    order (up to the order among hits with identical details, which a
 *    node breaks by internal id and Miroir by node order);
 *  - exact output text, stripping, pagination (§6.2 examples), facets;
 *  - garbage answers are refused with a 500 `internal` error;
 *  - a seeded property test: random details, random split, every window.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "miroir_merge.h"


/*
 * Generated from t/golden/meilisearch-1.50.0.json: the hits of every step
 * that has rankKeys, in the order one real node returned them; hits[]
 * carry their `_rankingScoreDetails`, plain[] is the hit as the node
 * returned it, details[] the details alone.
 */
typedef struct {
    const char  *name;
    size_t       n;
    const char  *hits[8];
    const char  *plain[8];
    const char  *details[8];
} golden_step_t;

static const golden_step_t  golden[] = {
    { "search-post", 5,
      {
      "{\"id\":1,\"title\":\"The Dark Knight\",\"overview\":\"Batman raises th"
      "e stakes in his war on crime in Gotham\",\"genres\":[\"action\",\"crime"
      "\",\"drama\"],\"year\":2008,\"rating\":9.0,\"director\":\"Christopher N"
      "olan\",\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"score"
      "\":1.0},\"exactness\":{\"matchType\":\"noExactMatch\",\"matchingWords\""
      ":2,\"maxMatchingWords\":2,\"order\":5,\"score\":0.3333333333333333},\"p"
      "roximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":2,\"o"
      "rder\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,"
      "\"score\":0.9047619047619048},\"words\":{\"matchingWords\":2,\"maxMatch"
      "ingWords\":2,\"order\":0,\"score\":1.0}}}",
      "{\"id\":23,\"title\":\"The Dark Knight Rises\",\"overview\":\"Eight yea"
      "rs after the Joker's reign of anarchy Batman returns\",\"genres\":[\"ac"
      "tion\",\"drama\"],\"year\":2012,\"rating\":8.4,\"director\":\"Christoph"
      "er Nolan\",\"franchise\":\"batman\",\"_rankingScoreDetails\":{\"attribu"
      "teRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchType\":\"noE"
      "xactMatch\",\"matchingWords\":2,\"maxMatchingWords\":2,\"order\":5,\"sc"
      "ore\":0.3333333333333333},\"proximity\":{\"order\":2,\"score\":1.0},\"t"
      "ypo\":{\"maxTypoCount\":2,\"order\":1,\"score\":1.0,\"typoCount\":0},\""
      "wordPosition\":{\"order\":4,\"score\":0.9047619047619048},\"words\":{\""
      "matchingWords\":2,\"maxMatchingWords\":2,\"order\":0,\"score\":1.0}}}",
      "{\"id\":\"b_22\",\"title\":\"Dark\",\"overview\":\"A family saga with a"
      " supernatural twist set in a german town\",\"genres\":[\"crime\",\"dram"
      "a\",\"mystery\"],\"year\":2017,\"rating\":8.7,\"director\":\"Baran bo O"
      "dar\",\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"score"
      "\":1.0},\"exactness\":{\"matchType\":\"exactMatch\",\"order\":5,\"score"
      "\":1.0},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCo"
      "unt\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\""
      "order\":4,\"score\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWo"
      "rds\":2,\"order\":0,\"score\":0.5}}}",
      "{\"id\":2,\"title\":\"Dark City\",\"overview\":\"A man struggles with m"
      "emories of his past in a dark city\",\"genres\":[\"sci-fi\",\"thriller"
      "\"],\"year\":1998,\"rating\":7.6,\"director\":\"Alex Proyas\",\"_rankin"
      "gScoreDetails\":{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactn"
      "ess\":{\"matchType\":\"matchesStart\",\"order\":5,\"score\":0.666666666"
      "6666666},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoC"
      "ount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{"
      "\"order\":4,\"score\":1.0},\"words\":{\"matchingWords\":1,\"maxMatching"
      "Words\":2,\"order\":0,\"score\":0.5}}}",
      "{\"id\":5,\"title\":\"Dark Shadows\",\"overview\":\"An imprisoned vampi"
      "re returns to his ancestral home\",\"genres\":[\"comedy\",\"fantasy\"],"
      "\"year\":2012,\"rating\":6.2,\"director\":\"Tim Burton\",\"_rankingScor"
      "eDetails\":{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\""
      ":{\"matchType\":\"matchesStart\",\"order\":5,\"score\":0.66666666666666"
      "66},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount"
      "\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"ord"
      "er\":4,\"score\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords"
      "\":2,\"order\":0,\"score\":0.5}}}"
      },
      {
      "{\"id\":1,\"title\":\"The Dark Knight\",\"overview\":\"Batman raises th"
      "e stakes in his war on crime in Gotham\",\"genres\":[\"action\",\"crime"
      "\",\"drama\"],\"year\":2008,\"rating\":9.0,\"director\":\"Christopher N"
      "olan\"}",
      "{\"id\":23,\"title\":\"The Dark Knight Rises\",\"overview\":\"Eight yea"
      "rs after the Joker's reign of anarchy Batman returns\",\"genres\":[\"ac"
      "tion\",\"drama\"],\"year\":2012,\"rating\":8.4,\"director\":\"Christoph"
      "er Nolan\",\"franchise\":\"batman\"}",
      "{\"id\":\"b_22\",\"title\":\"Dark\",\"overview\":\"A family saga with a"
      " supernatural twist set in a german town\",\"genres\":[\"crime\",\"dram"
      "a\",\"mystery\"],\"year\":2017,\"rating\":8.7,\"director\":\"Baran bo O"
      "dar\"}",
      "{\"id\":2,\"title\":\"Dark City\",\"overview\":\"A man struggles with m"
      "emories of his past in a dark city\",\"genres\":[\"sci-fi\",\"thriller"
      "\"],\"year\":1998,\"rating\":7.6,\"director\":\"Alex Proyas\"}",
      "{\"id\":5,\"title\":\"Dark Shadows\",\"overview\":\"An imprisoned vampi"
      "re returns to his ancestral home\",\"genres\":[\"comedy\",\"fantasy\"],"
      "\"year\":2012,\"rating\":6.2,\"director\":\"Tim Burton\"}"
      },
      {
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":2,\"maxMatchingWords\":2,\"orde"
      "r\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":2,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":4,\"score\":0.9047619047619048},\""
      "words\":{\"matchingWords\":2,\"maxMatchingWords\":2,\"order\":0,\"score"
      "\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":2,\"maxMatchingWords\":2,\"orde"
      "r\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":2,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":4,\"score\":0.9047619047619048},\""
      "words\":{\"matchingWords\":2,\"maxMatchingWords\":2,\"order\":0,\"score"
      "\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"exactMatch\",\"order\":5,\"score\":1.0},\"proximity\":{\"order\""
      ":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1."
      "0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"score\":1.0},\"words"
      "\":{\"matchingWords\":1,\"maxMatchingWords\":2,\"order\":0,\"score\":0."
      "5}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"proxi"
      "mity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order"
      "\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"sco"
      "re\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":2,\"order"
      "\":0,\"score\":0.5}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"proxi"
      "mity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order"
      "\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"sco"
      "re\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":2,\"order"
      "\":0,\"score\":0.5}}"
      },
    },
    { "search-details", 5,
      {
      "{\"id\":1,\"_rankingScore\":0.9989417989417989,\"_rankingScoreDetails\""
      ":{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchT"
      "ype\":\"noExactMatch\",\"matchingWords\":2,\"maxMatchingWords\":2,\"ord"
      "er\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":2,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":4,\"score\":0.9047619047619048},\""
      "words\":{\"matchingWords\":2,\"maxMatchingWords\":2,\"order\":0,\"score"
      "\":1.0}}}",
      "{\"id\":23,\"_rankingScore\":0.9989417989417989,\"_rankingScoreDetails"
      "\":{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matc"
      "hType\":\"noExactMatch\",\"matchingWords\":2,\"maxMatchingWords\":2,\"o"
      "rder\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"sco"
      "re\":1.0},\"typo\":{\"maxTypoCount\":2,\"order\":1,\"score\":1.0,\"typo"
      "Count\":0},\"wordPosition\":{\"order\":4,\"score\":0.9047619047619048},"
      "\"words\":{\"matchingWords\":2,\"maxMatchingWords\":2,\"order\":0,\"sco"
      "re\":1.0}}}",
      "{\"id\":\"b_22\",\"_rankingScore\":0.5,\"_rankingScoreDetails\":{\"attr"
      "ibuteRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchType\":\""
      "exactMatch\",\"order\":5,\"score\":1.0},\"proximity\":{\"order\":2,\"sc"
      "ore\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typ"
      "oCount\":0},\"wordPosition\":{\"order\":4,\"score\":1.0},\"words\":{\"m"
      "atchingWords\":1,\"maxMatchingWords\":2,\"order\":0,\"score\":0.5}}}",
      "{\"id\":2,\"_rankingScore\":0.49747474747474746,\"_rankingScoreDetails"
      "\":{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matc"
      "hType\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"pr"
      "oximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"or"
      "der\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\""
      "score\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":2,\"or"
      "der\":0,\"score\":0.5}}}",
      "{\"id\":5,\"_rankingScore\":0.49747474747474746,\"_rankingScoreDetails"
      "\":{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matc"
      "hType\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"pr"
      "oximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"or"
      "der\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\""
      "score\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":2,\"or"
      "der\":0,\"score\":0.5}}}"
      },
      {
      "{\"id\":1,\"_rankingScore\":0.9989417989417989}",
      "{\"id\":23,\"_rankingScore\":0.9989417989417989}",
      "{\"id\":\"b_22\",\"_rankingScore\":0.5}",
      "{\"id\":2,\"_rankingScore\":0.49747474747474746}",
      "{\"id\":5,\"_rankingScore\":0.49747474747474746}"
      },
      {
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":2,\"maxMatchingWords\":2,\"orde"
      "r\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":2,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":4,\"score\":0.9047619047619048},\""
      "words\":{\"matchingWords\":2,\"maxMatchingWords\":2,\"order\":0,\"score"
      "\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":2,\"maxMatchingWords\":2,\"orde"
      "r\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":2,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":4,\"score\":0.9047619047619048},\""
      "words\":{\"matchingWords\":2,\"maxMatchingWords\":2,\"order\":0,\"score"
      "\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"exactMatch\",\"order\":5,\"score\":1.0},\"proximity\":{\"order\""
      ":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1."
      "0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"score\":1.0},\"words"
      "\":{\"matchingWords\":1,\"maxMatchingWords\":2,\"order\":0,\"score\":0."
      "5}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"proxi"
      "mity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order"
      "\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"sco"
      "re\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":2,\"order"
      "\":0,\"score\":0.5}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"proxi"
      "mity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order"
      "\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"sco"
      "re\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":2,\"order"
      "\":0,\"score\":0.5}}"
      },
    },
    { "search-prefix", 2,
      {
      "{\"id\":12,\"title\":\"Interstellar\",\"_rankingScoreDetails\":{\"attri"
      "buteRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchType\":\"n"
      "oExactMatch\",\"matchingWords\":0,\"maxMatchingWords\":1,\"order\":5,\""
      "score\":0.16666666666666666},\"proximity\":{\"order\":2,\"score\":1.0},"
      "\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0}"
      ",\"wordPosition\":{\"order\":4,\"score\":1.0},\"words\":{\"matchingWord"
      "s\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0}}}",
      "{\"id\":18,\"title\":\"Ford v Ferrari\",\"_rankingScoreDetails\":{\"att"
      "ributeRank\":{\"order\":3,\"score\":0.6666666666666666},\"exactness\":{"
      "\"matchType\":\"noExactMatch\",\"matchingWords\":0,\"maxMatchingWords\""
      ":1,\"order\":5,\"score\":0.16666666666666666},\"proximity\":{\"order\":"
      "2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":0.5"
      ",\"typoCount\":1},\"wordPosition\":{\"order\":4,\"score\":0.63636363636"
      "36364},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":"
      "0,\"score\":1.0}}}"
      },
      {
      "{\"id\":12,\"title\":\"Interstellar\"}",
      "{\"id\":18,\"title\":\"Ford v Ferrari\"}"
      },
      {
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":0,\"maxMatchingWords\":1,\"orde"
      "r\":5,\"score\":0.16666666666666666},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":4,\"score\":1.0},\"words\":{\"matc"
      "hingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":0.6666666666666666},\"exactne"
      "ss\":{\"matchType\":\"noExactMatch\",\"matchingWords\":0,\"maxMatchingW"
      "ords\":1,\"order\":5,\"score\":0.16666666666666666},\"proximity\":{\"or"
      "der\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score"
      "\":0.5,\"typoCount\":1},\"wordPosition\":{\"order\":4,\"score\":0.63636"
      "36363636364},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"or"
      "der\":0,\"score\":1.0}}"
      },
    },
    { "search-synonym", 3,
      {
      "{\"id\":1,\"_rankingScore\":0.9949494949494949,\"_rankingScoreDetails\""
      ":{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchT"
      "ype\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"prox"
      "imity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"orde"
      "r\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"sc"
      "ore\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"orde"
      "r\":0,\"score\":1.0}}}",
      "{\"id\":10,\"_rankingScore\":0.9949494949494949,\"_rankingScoreDetails"
      "\":{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matc"
      "hType\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"pr"
      "oximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"or"
      "der\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\""
      "score\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"or"
      "der\":0,\"score\":1.0}}}",
      "{\"id\":23,\"_rankingScore\":0.9747474747474747,\"_rankingScoreDetails"
      "\":{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matc"
      "hType\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingWords\":1,\"o"
      "rder\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"sco"
      "re\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typo"
      "Count\":0},\"wordPosition\":{\"order\":4,\"score\":0.9090909090909091},"
      "\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"sco"
      "re\":1.0}}}"
      },
      {
      "{\"id\":1,\"_rankingScore\":0.9949494949494949}",
      "{\"id\":10,\"_rankingScore\":0.9949494949494949}",
      "{\"id\":23,\"_rankingScore\":0.9747474747474747}"
      },
      {
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"proxi"
      "mity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order"
      "\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"sco"
      "re\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order"
      "\":0,\"score\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"proxi"
      "mity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order"
      "\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"sco"
      "re\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order"
      "\":0,\"score\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingWords\":1,\"orde"
      "r\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":4,\"score\":0.9090909090909091},\""
      "words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"score"
      "\":1.0}}"
      },
    },
    { "search-matching-all", 2,
      {
      "{\"id\":23,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":2,\"s"
      "core\":1.0},\"exactness\":{\"matchType\":\"noExactMatch\",\"matchingWor"
      "ds\":3,\"maxMatchingWords\":3,\"order\":4,\"score\":0.3333333333333333}"
      ",\"proximity\":{\"order\":1,\"score\":1.0},\"typo\":{\"maxTypoCount\":4"
      ",\"order\":0,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\""
      ":3,\"score\":0.9032258064516129}}}",
      "{\"id\":1,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":2,\"sc"
      "ore\":0.8571428571428571},\"exactness\":{\"matchType\":\"noExactMatch\""
      ",\"matchingWords\":2,\"maxMatchingWords\":3,\"order\":4,\"score\":0.25}"
      ",\"proximity\":{\"order\":1,\"score\":0.5714285714285714},\"typo\":{\"m"
      "axTypoCount\":4,\"order\":0,\"score\":0.8,\"typoCount\":1},\"wordPositi"
      "on\":{\"order\":3,\"score\":0.9032258064516129}}}"
      },
      {
      "{\"id\":23}",
      "{\"id\":1}"
      },
      {
      "{\"attributeRank\":{\"order\":2,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":3,\"maxMatchingWords\":3,\"orde"
      "r\":4,\"score\":0.3333333333333333},\"proximity\":{\"order\":1,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":4,\"order\":0,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":3,\"score\":0.9032258064516129}}",
      "{\"attributeRank\":{\"order\":2,\"score\":0.8571428571428571},\"exactne"
      "ss\":{\"matchType\":\"noExactMatch\",\"matchingWords\":2,\"maxMatchingW"
      "ords\":3,\"order\":4,\"score\":0.25},\"proximity\":{\"order\":1,\"score"
      "\":0.5714285714285714},\"typo\":{\"maxTypoCount\":4,\"order\":0,\"score"
      "\":0.8,\"typoCount\":1},\"wordPosition\":{\"order\":3,\"score\":0.90322"
      "58064516129}}"
      },
    },
    { "search-matching-last", 5,
      {
      "{\"id\":23,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"s"
      "core\":1.0},\"exactness\":{\"matchType\":\"noExactMatch\",\"matchingWor"
      "ds\":3,\"maxMatchingWords\":3,\"order\":5,\"score\":0.3333333333333333}"
      ",\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":3"
      ",\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\""
      ":4,\"score\":0.9032258064516129},\"words\":{\"matchingWords\":3,\"maxMa"
      "tchingWords\":3,\"order\":0,\"score\":1.0}}}",
      "{\"id\":1,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"sc"
      "ore\":0.8571428571428571},\"exactness\":{\"matchType\":\"noExactMatch\""
      ",\"matchingWords\":2,\"maxMatchingWords\":3,\"order\":5,\"score\":0.25}"
      ",\"proximity\":{\"order\":2,\"score\":0.5714285714285714},\"typo\":{\"m"
      "axTypoCount\":3,\"order\":1,\"score\":0.75,\"typoCount\":1},\"wordPosit"
      "ion\":{\"order\":4,\"score\":0.9032258064516129},\"words\":{\"matchingW"
      "ords\":3,\"maxMatchingWords\":3,\"order\":0,\"score\":1.0}}}",
      "{\"id\":\"b_22\",\"_rankingScoreDetails\":{\"attributeRank\":{\"order\""
      ":3,\"score\":1.0},\"exactness\":{\"matchType\":\"exactMatch\",\"order\""
      ":5,\"score\":1.0},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{"
      "\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPos"
      "ition\":{\"order\":4,\"score\":1.0},\"words\":{\"matchingWords\":1,\"ma"
      "xMatchingWords\":3,\"order\":0,\"score\":0.3333333333333333}}}",
      "{\"id\":2,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"sc"
      "ore\":1.0},\"exactness\":{\"matchType\":\"matchesStart\",\"order\":5,\""
      "score\":0.6666666666666666},\"proximity\":{\"order\":2,\"score\":1.0},"
      "\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0}"
      ",\"wordPosition\":{\"order\":4,\"score\":1.0},\"words\":{\"matchingWord"
      "s\":1,\"maxMatchingWords\":3,\"order\":0,\"score\":0.3333333333333333}}"
      "}",
      "{\"id\":5,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"sc"
      "ore\":1.0},\"exactness\":{\"matchType\":\"matchesStart\",\"order\":5,\""
      "score\":0.6666666666666666},\"proximity\":{\"order\":2,\"score\":1.0},"
      "\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0}"
      ",\"wordPosition\":{\"order\":4,\"score\":1.0},\"words\":{\"matchingWord"
      "s\":1,\"maxMatchingWords\":3,\"order\":0,\"score\":0.3333333333333333}}"
      "}"
      },
      {
      "{\"id\":23}",
      "{\"id\":1}",
      "{\"id\":\"b_22\"}",
      "{\"id\":2}",
      "{\"id\":5}"
      },
      {
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":3,\"maxMatchingWords\":3,\"orde"
      "r\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":3,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":4,\"score\":0.9032258064516129},\""
      "words\":{\"matchingWords\":3,\"maxMatchingWords\":3,\"order\":0,\"score"
      "\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":0.8571428571428571},\"exactne"
      "ss\":{\"matchType\":\"noExactMatch\",\"matchingWords\":2,\"maxMatchingW"
      "ords\":3,\"order\":5,\"score\":0.25},\"proximity\":{\"order\":2,\"score"
      "\":0.5714285714285714},\"typo\":{\"maxTypoCount\":3,\"order\":1,\"score"
      "\":0.75,\"typoCount\":1},\"wordPosition\":{\"order\":4,\"score\":0.9032"
      "258064516129},\"words\":{\"matchingWords\":3,\"maxMatchingWords\":3,\"o"
      "rder\":0,\"score\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"exactMatch\",\"order\":5,\"score\":1.0},\"proximity\":{\"order\""
      ":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1."
      "0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"score\":1.0},\"words"
      "\":{\"matchingWords\":1,\"maxMatchingWords\":3,\"order\":0,\"score\":0."
      "3333333333333333}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"proxi"
      "mity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order"
      "\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"sco"
      "re\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":3,\"order"
      "\":0,\"score\":0.3333333333333333}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"proxi"
      "mity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order"
      "\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"sco"
      "re\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":3,\"order"
      "\":0,\"score\":0.3333333333333333}}"
      },
    },
    { "search-sort", 7,
      {
      "{\"id\":3,\"year\":2019,\"_rankingScoreDetails\":{\"attributeRank\":{\""
      "order\":3,\"score\":1.0},\"exactness\":{\"matchType\":\"noExactMatch\","
      "\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":6,\"score\":0.3333"
      "333333333333},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"max"
      "TypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition"
      "\":{\"order\":5,\"score\":0.9090909090909091},\"words\":{\"matchingWord"
      "s\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0},\"year:desc\":{"
      "\"order\":4,\"value\":2019.0}}}",
      "{\"id\":\"a-21\",\"year\":2017,\"_rankingScoreDetails\":{\"attributeRan"
      "k\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchType\":\"noExactM"
      "atch\",\"matchingWords\":0,\"maxMatchingWords\":1,\"order\":6,\"score\""
      ":0.16666666666666666},\"proximity\":{\"order\":2,\"score\":1.0},\"typo"
      "\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wor"
      "dPosition\":{\"order\":5,\"score\":1.0},\"words\":{\"matchingWords\":1,"
      "\"maxMatchingWords\":1,\"order\":0,\"score\":1.0},\"year:desc\":{\"orde"
      "r\":4,\"value\":2017.0}}}",
      "{\"id\":23,\"year\":2012,\"_rankingScoreDetails\":{\"attributeRank\":{"
      "\"order\":3,\"score\":1.0},\"exactness\":{\"matchType\":\"noExactMatch"
      "\",\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":6,\"score\":0.3"
      "333333333333333},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\""
      "maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosit"
      "ion\":{\"order\":5,\"score\":0.8181818181818182},\"words\":{\"matchingW"
      "ords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0},\"year:desc"
      "\":{\"order\":4,\"value\":2012.0}}}",
      "{\"id\":4,\"year\":2010,\"_rankingScoreDetails\":{\"attributeRank\":{\""
      "order\":3,\"score\":1.0},\"exactness\":{\"matchType\":\"matchesStart\","
      "\"order\":6,\"score\":0.6666666666666666},\"proximity\":{\"order\":2,\""
      "score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"t"
      "ypoCount\":0},\"wordPosition\":{\"order\":5,\"score\":1.0},\"words\":{"
      "\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0},"
      "\"year:desc\":{\"order\":4,\"value\":2010.0}}}",
      "{\"id\":1,\"year\":2008,\"_rankingScoreDetails\":{\"attributeRank\":{\""
      "order\":3,\"score\":1.0},\"exactness\":{\"matchType\":\"noExactMatch\","
      "\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":6,\"score\":0.3333"
      "333333333333},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"max"
      "TypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition"
      "\":{\"order\":5,\"score\":0.8181818181818182},\"words\":{\"matchingWord"
      "s\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0},\"year:desc\":{"
      "\"order\":4,\"value\":2008.0}}}",
      "{\"id\":6,\"year\":2001,\"_rankingScoreDetails\":{\"attributeRank\":{\""
      "order\":3,\"score\":1.0},\"exactness\":{\"matchType\":\"noExactMatch\","
      "\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":6,\"score\":0.3333"
      "333333333333},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"max"
      "TypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition"
      "\":{\"order\":5,\"score\":0.9090909090909091},\"words\":{\"matchingWord"
      "s\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0},\"year:desc\":{"
      "\"order\":4,\"value\":2001.0}}}",
      "{\"id\":9,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"sc"
      "ore\":1.0},\"exactness\":{\"matchType\":\"noExactMatch\",\"matchingWord"
      "s\":1,\"maxMatchingWords\":1,\"order\":6,\"score\":0.3333333333333333},"
      "\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,"
      "\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":"
      "5,\"score\":0.9090909090909091},\"words\":{\"matchingWords\":1,\"maxMat"
      "chingWords\":1,\"order\":0,\"score\":1.0},\"year:desc\":{\"order\":4,\""
      "value\":null}}}"
      },
      {
      "{\"id\":3,\"year\":2019}",
      "{\"id\":\"a-21\",\"year\":2017}",
      "{\"id\":23,\"year\":2012}",
      "{\"id\":4,\"year\":2010}",
      "{\"id\":1,\"year\":2008}",
      "{\"id\":6,\"year\":2001}",
      "{\"id\":9}"
      },
      {
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingWords\":1,\"orde"
      "r\":6,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":5,\"score\":0.9090909090909091},\""
      "words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"score"
      "\":1.0},\"year:desc\":{\"order\":4,\"value\":2019.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":0,\"maxMatchingWords\":1,\"orde"
      "r\":6,\"score\":0.16666666666666666},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":5,\"score\":1.0},\"words\":{\"matc"
      "hingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0},\"year:"
      "desc\":{\"order\":4,\"value\":2017.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingWords\":1,\"orde"
      "r\":6,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":5,\"score\":0.8181818181818182},\""
      "words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"score"
      "\":1.0},\"year:desc\":{\"order\":4,\"value\":2012.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"matchesStart\",\"order\":6,\"score\":0.6666666666666666},\"proxi"
      "mity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order"
      "\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":5,\"sco"
      "re\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order"
      "\":0,\"score\":1.0},\"year:desc\":{\"order\":4,\"value\":2010.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingWords\":1,\"orde"
      "r\":6,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":5,\"score\":0.8181818181818182},\""
      "words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"score"
      "\":1.0},\"year:desc\":{\"order\":4,\"value\":2008.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingWords\":1,\"orde"
      "r\":6,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":5,\"score\":0.9090909090909091},\""
      "words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"score"
      "\":1.0},\"year:desc\":{\"order\":4,\"value\":2001.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingWords\":1,\"orde"
      "r\":6,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":5,\"score\":0.9090909090909091},\""
      "words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"score"
      "\":1.0},\"year:desc\":{\"order\":4,\"value\":null}}"
      },
    },
    { "search-sort-two", 5,
      {
      "{\"id\":8,\"_rankingScoreDetails\":{\"rating:asc\":{\"order\":0,\"value"
      "\":4.9},\"title:asc\":{\"order\":1,\"value\":\"darkness falls\"}}}",
      "{\"id\":9,\"_rankingScoreDetails\":{\"rating:asc\":{\"order\":0,\"value"
      "\":5.1},\"title:asc\":{\"order\":1,\"value\":\"night knight\"}}}",
      "{\"id\":3,\"_rankingScoreDetails\":{\"rating:asc\":{\"order\":0,\"value"
      "\":5.6},\"title:asc\":{\"order\":1,\"value\":\"the knight before christ"
      "mas\"}}}",
      "{\"id\":5,\"_rankingScoreDetails\":{\"rating:asc\":{\"order\":0,\"value"
      "\":6.2},\"title:asc\":{\"order\":1,\"value\":\"dark shadows\"}}}",
      "{\"id\":4,\"_rankingScoreDetails\":{\"rating:asc\":{\"order\":0,\"value"
      "\":6.4},\"title:asc\":{\"order\":1,\"value\":\"knight and day\"}}}"
      },
      {
      "{\"id\":8}",
      "{\"id\":9}",
      "{\"id\":3}",
      "{\"id\":5}",
      "{\"id\":4}"
      },
      {
      "{\"rating:asc\":{\"order\":0,\"value\":4.9},\"title:asc\":{\"order\":1,"
      "\"value\":\"darkness falls\"}}",
      "{\"rating:asc\":{\"order\":0,\"value\":5.1},\"title:asc\":{\"order\":1,"
      "\"value\":\"night knight\"}}",
      "{\"rating:asc\":{\"order\":0,\"value\":5.6},\"title:asc\":{\"order\":1,"
      "\"value\":\"the knight before christmas\"}}",
      "{\"rating:asc\":{\"order\":0,\"value\":6.2},\"title:asc\":{\"order\":1,"
      "\"value\":\"dark shadows\"}}",
      "{\"rating:asc\":{\"order\":0,\"value\":6.4},\"title:asc\":{\"order\":1,"
      "\"value\":\"knight and day\"}}"
      },
    },
    { "search-highlight-crop", 3,
      {
      "{\"id\":4,\"_formatted\":{\"id\":\"4\",\"title\":\"<em>Knight</em> and "
      "Day\",\"overview\":\"A fugitive couple goes on\xe2\x80\xa6""\"},\"_rank"
      "ingScoreDetails\":{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exac"
      "tness\":{\"matchType\":\"matchesStart\",\"order\":5,\"score\":0.6666666"
      "666666666},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTyp"
      "oCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":"
      "{\"order\":4,\"score\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchin"
      "gWords\":1,\"order\":0,\"score\":1.0}}}",
      "{\"id\":\"a-21\",\"_formatted\":{\"id\":\"a-21\",\"title\":\"<em>Knight"
      "</em>fall\",\"overview\":\"The Knights Templar fight for\xe2\x80\xa6"""
      "\"},\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"score\":"
      "1.0},\"exactness\":{\"matchType\":\"noExactMatch\",\"matchingWords\":0,"
      "\"maxMatchingWords\":1,\"order\":5,\"score\":0.16666666666666666},\"pro"
      "ximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"ord"
      "er\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"s"
      "core\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"ord"
      "er\":0,\"score\":1.0}}}",
      "{\"id\":3,\"_formatted\":{\"id\":\"3\",\"title\":\"The <em>Knight</em> "
      "Before Christmas\",\"overview\":\"A medieval knight is transported"
      "\xe2\x80\xa6""\"},\"_rankingScoreDetails\":{\"attributeRank\":{\"order"
      "\":3,\"score\":1.0},\"exactness\":{\"matchType\":\"noExactMatch\",\"mat"
      "chingWords\":1,\"maxMatchingWords\":1,\"order\":5,\"score\":0.333333333"
      "3333333},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoC"
      "ount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{"
      "\"order\":4,\"score\":0.9090909090909091},\"words\":{\"matchingWords\":"
      "1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0}}}"
      },
      {
      "{\"id\":4,\"_formatted\":{\"id\":\"4\",\"title\":\"<em>Knight</em> and "
      "Day\",\"overview\":\"A fugitive couple goes on\xe2\x80\xa6""\"}}",
      "{\"id\":\"a-21\",\"_formatted\":{\"id\":\"a-21\",\"title\":\"<em>Knight"
      "</em>fall\",\"overview\":\"The Knights Templar fight for\xe2\x80\xa6"""
      "\"}}",
      "{\"id\":3,\"_formatted\":{\"id\":\"3\",\"title\":\"The <em>Knight</em> "
      "Before Christmas\",\"overview\":\"A medieval knight is transported"
      "\xe2\x80\xa6""\"}}"
      },
      {
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"proxi"
      "mity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order"
      "\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"sco"
      "re\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order"
      "\":0,\"score\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":0,\"maxMatchingWords\":1,\"orde"
      "r\":5,\"score\":0.16666666666666666},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":4,\"score\":1.0},\"words\":{\"matc"
      "hingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingWords\":1,\"orde"
      "r\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":4,\"score\":0.9090909090909091},\""
      "words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"score"
      "\":1.0}}"
      },
    },
    { "search-matches-position", 2,
      {
      "{\"id\":\"b_22\",\"_matchesPosition\":{\"title\":[{\"start\":0,\"length"
      "\":4}]},\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"scor"
      "e\":1.0},\"exactness\":{\"matchType\":\"exactMatch\",\"order\":5,\"scor"
      "e\":1.0},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoC"
      "ount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{"
      "\"order\":4,\"score\":1.0},\"words\":{\"matchingWords\":1,\"maxMatching"
      "Words\":1,\"order\":0,\"score\":1.0}}}",
      "{\"id\":2,\"_matchesPosition\":{\"overview\":[{\"start\":47,\"length\":"
      "4}],\"title\":[{\"start\":0,\"length\":4}]},\"_rankingScoreDetails\":{"
      "\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTyp"
      "e\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"proxim"
      "ity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order"
      "\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"sco"
      "re\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order"
      "\":0,\"score\":1.0}}}"
      },
      {
      "{\"id\":\"b_22\",\"_matchesPosition\":{\"title\":[{\"start\":0,\"length"
      "\":4}]}}",
      "{\"id\":2,\"_matchesPosition\":{\"overview\":[{\"start\":47,\"length\":"
      "4}],\"title\":[{\"start\":0,\"length\":4}]}}"
      },
      {
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"exactMatch\",\"order\":5,\"score\":1.0},\"proximity\":{\"order\""
      ":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1."
      "0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"score\":1.0},\"words"
      "\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1."
      "0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"matchesStart\",\"order\":5,\"score\":0.6666666666666666},\"proxi"
      "mity\":{\"order\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order"
      "\":1,\"score\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"sco"
      "re\":1.0},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order"
      "\":0,\"score\":1.0}}"
      },
    },
    { "search-threshold", 2,
      {
      "{\"id\":1,\"_rankingScore\":0.9989417989417989,\"_rankingScoreDetails\""
      ":{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchT"
      "ype\":\"noExactMatch\",\"matchingWords\":2,\"maxMatchingWords\":2,\"ord"
      "er\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":2,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":4,\"score\":0.9047619047619048},\""
      "words\":{\"matchingWords\":2,\"maxMatchingWords\":2,\"order\":0,\"score"
      "\":1.0}}}",
      "{\"id\":23,\"_rankingScore\":0.9989417989417989,\"_rankingScoreDetails"
      "\":{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matc"
      "hType\":\"noExactMatch\",\"matchingWords\":2,\"maxMatchingWords\":2,\"o"
      "rder\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"sco"
      "re\":1.0},\"typo\":{\"maxTypoCount\":2,\"order\":1,\"score\":1.0,\"typo"
      "Count\":0},\"wordPosition\":{\"order\":4,\"score\":0.9047619047619048},"
      "\"words\":{\"matchingWords\":2,\"maxMatchingWords\":2,\"order\":0,\"sco"
      "re\":1.0}}}"
      },
      {
      "{\"id\":1,\"_rankingScore\":0.9989417989417989}",
      "{\"id\":23,\"_rankingScore\":0.9989417989417989}"
      },
      {
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":2,\"maxMatchingWords\":2,\"orde"
      "r\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":2,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":4,\"score\":0.9047619047619048},\""
      "words\":{\"matchingWords\":2,\"maxMatchingWords\":2,\"order\":0,\"score"
      "\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"noExactMatch\",\"matchingWords\":2,\"maxMatchingWords\":2,\"orde"
      "r\":5,\"score\":0.3333333333333333},\"proximity\":{\"order\":2,\"score"
      "\":1.0},\"typo\":{\"maxTypoCount\":2,\"order\":1,\"score\":1.0,\"typoCo"
      "unt\":0},\"wordPosition\":{\"order\":4,\"score\":0.9047619047619048},\""
      "words\":{\"matchingWords\":2,\"maxMatchingWords\":2,\"order\":0,\"score"
      "\":1.0}}"
      },
    },
    { "search-attrs-to-search-on", 8,
      {
      "{\"id\":1,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"sc"
      "ore\":0.3333333333333333},\"exactness\":{\"matchType\":\"noExactMatch\""
      ",\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":5,\"score\":0.333"
      "3333333333333},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\"ma"
      "xTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPositio"
      "n\":{\"order\":4,\"score\":0.9090909090909091},\"words\":{\"matchingWor"
      "ds\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0}}}",
      "{\"id\":10,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"s"
      "core\":0.3333333333333333},\"exactness\":{\"matchType\":\"noExactMatch"
      "\",\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":5,\"score\":0.3"
      "333333333333333},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\""
      "maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosit"
      "ion\":{\"order\":4,\"score\":0.9090909090909091},\"words\":{\"matchingW"
      "ords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0}}}",
      "{\"id\":11,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"s"
      "core\":0.3333333333333333},\"exactness\":{\"matchType\":\"noExactMatch"
      "\",\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":5,\"score\":0.3"
      "333333333333333},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\""
      "maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosit"
      "ion\":{\"order\":4,\"score\":0.9090909090909091},\"words\":{\"matchingW"
      "ords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0}}}",
      "{\"id\":12,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"s"
      "core\":0.3333333333333333},\"exactness\":{\"matchType\":\"noExactMatch"
      "\",\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":5,\"score\":0.3"
      "333333333333333},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\""
      "maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosit"
      "ion\":{\"order\":4,\"score\":0.9090909090909091},\"words\":{\"matchingW"
      "ords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0}}}",
      "{\"id\":13,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"s"
      "core\":0.3333333333333333},\"exactness\":{\"matchType\":\"noExactMatch"
      "\",\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":5,\"score\":0.3"
      "333333333333333},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\""
      "maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosit"
      "ion\":{\"order\":4,\"score\":0.9090909090909091},\"words\":{\"matchingW"
      "ords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0}}}",
      "{\"id\":23,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"s"
      "core\":0.3333333333333333},\"exactness\":{\"matchType\":\"noExactMatch"
      "\",\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":5,\"score\":0.3"
      "333333333333333},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\""
      "maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosit"
      "ion\":{\"order\":4,\"score\":0.9090909090909091},\"words\":{\"matchingW"
      "ords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0}}}",
      "{\"id\":24,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"s"
      "core\":0.3333333333333333},\"exactness\":{\"matchType\":\"noExactMatch"
      "\",\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":5,\"score\":0.3"
      "333333333333333},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\""
      "maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosit"
      "ion\":{\"order\":4,\"score\":0.9090909090909091},\"words\":{\"matchingW"
      "ords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0}}}",
      "{\"id\":25,\"_rankingScoreDetails\":{\"attributeRank\":{\"order\":3,\"s"
      "core\":0.3333333333333333},\"exactness\":{\"matchType\":\"noExactMatch"
      "\",\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":5,\"score\":0.3"
      "333333333333333},\"proximity\":{\"order\":2,\"score\":1.0},\"typo\":{\""
      "maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\":0},\"wordPosit"
      "ion\":{\"order\":4,\"score\":0.9090909090909091},\"words\":{\"matchingW"
      "ords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0}}}"
      },
      {
      "{\"id\":1}",
      "{\"id\":10}",
      "{\"id\":11}",
      "{\"id\":12}",
      "{\"id\":13}",
      "{\"id\":23}",
      "{\"id\":24}",
      "{\"id\":25}"
      },
      {
      "{\"attributeRank\":{\"order\":3,\"score\":0.3333333333333333},\"exactne"
      "ss\":{\"matchType\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingW"
      "ords\":1,\"order\":5,\"score\":0.3333333333333333},\"proximity\":{\"ord"
      "er\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score"
      "\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"score\":0.90909"
      "09090909091},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"or"
      "der\":0,\"score\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":0.3333333333333333},\"exactne"
      "ss\":{\"matchType\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingW"
      "ords\":1,\"order\":5,\"score\":0.3333333333333333},\"proximity\":{\"ord"
      "er\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score"
      "\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"score\":0.90909"
      "09090909091},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"or"
      "der\":0,\"score\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":0.3333333333333333},\"exactne"
      "ss\":{\"matchType\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingW"
      "ords\":1,\"order\":5,\"score\":0.3333333333333333},\"proximity\":{\"ord"
      "er\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score"
      "\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"score\":0.90909"
      "09090909091},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"or"
      "der\":0,\"score\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":0.3333333333333333},\"exactne"
      "ss\":{\"matchType\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingW"
      "ords\":1,\"order\":5,\"score\":0.3333333333333333},\"proximity\":{\"ord"
      "er\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score"
      "\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"score\":0.90909"
      "09090909091},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"or"
      "der\":0,\"score\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":0.3333333333333333},\"exactne"
      "ss\":{\"matchType\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingW"
      "ords\":1,\"order\":5,\"score\":0.3333333333333333},\"proximity\":{\"ord"
      "er\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score"
      "\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"score\":0.90909"
      "09090909091},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"or"
      "der\":0,\"score\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":0.3333333333333333},\"exactne"
      "ss\":{\"matchType\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingW"
      "ords\":1,\"order\":5,\"score\":0.3333333333333333},\"proximity\":{\"ord"
      "er\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score"
      "\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"score\":0.90909"
      "09090909091},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"or"
      "der\":0,\"score\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":0.3333333333333333},\"exactne"
      "ss\":{\"matchType\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingW"
      "ords\":1,\"order\":5,\"score\":0.3333333333333333},\"proximity\":{\"ord"
      "er\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score"
      "\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"score\":0.90909"
      "09090909091},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"or"
      "der\":0,\"score\":1.0}}",
      "{\"attributeRank\":{\"order\":3,\"score\":0.3333333333333333},\"exactne"
      "ss\":{\"matchType\":\"noExactMatch\",\"matchingWords\":1,\"maxMatchingW"
      "ords\":1,\"order\":5,\"score\":0.3333333333333333},\"proximity\":{\"ord"
      "er\":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score"
      "\":1.0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"score\":0.90909"
      "09090909091},\"words\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"or"
      "der\":0,\"score\":1.0}}"
      },
    },
    { "search-after-displayed", 1,
      {
      "{\"id\":24,\"title\":\"Tenet\",\"_rankingScoreDetails\":{\"attributeRan"
      "k\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchType\":\"exactMat"
      "ch\",\"order\":5,\"score\":1.0},\"proximity\":{\"order\":2,\"score\":1."
      "0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1.0,\"typoCount\""
      ":0},\"wordPosition\":{\"order\":4,\"score\":1.0},\"words\":{\"matchingW"
      "ords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1.0}}}"
      },
      {
      "{\"id\":24,\"title\":\"Tenet\"}"
      },
      {
      "{\"attributeRank\":{\"order\":3,\"score\":1.0},\"exactness\":{\"matchTy"
      "pe\":\"exactMatch\",\"order\":5,\"score\":1.0},\"proximity\":{\"order\""
      ":2,\"score\":1.0},\"typo\":{\"maxTypoCount\":1,\"order\":1,\"score\":1."
      "0,\"typoCount\":0},\"wordPosition\":{\"order\":4,\"score\":1.0},\"words"
      "\":{\"matchingWords\":1,\"maxMatchingWords\":1,\"order\":0,\"score\":1."
      "0}}"
      },
    },
};


/* A node answer {"hits":[...],"query":"q",...,"estimatedTotalHits":t} */
static char *
node_body(const char *const *hits, size_t n, uint64_t total,
    const char *extra)
{
    miroir_buf_t  b;
    size_t        i;

    memset(&b, 0, sizeof(b));
    miroir_buf_adds(&b, "{\"hits\":[");
    for (i = 0; i < n; i++) {
        if (i) {
            miroir_buf_addc(&b, ',');
        }
        miroir_buf_adds(&b, hits[i]);
    }
    miroir_buf_adds(&b, "],\"query\":\"q\",\"processingTimeMs\":1,"
                    "\"limit\":20,\"offset\":0,\"estimatedTotalHits\":");
    miroir_buf_addu(&b, total);
    if (extra != NULL) {
        miroir_buf_adds(&b, extra);
    }
    miroir_buf_addc(&b, '}');
    miroir_buf_addc(&b, '\0');
    ck_assert(!b.oom);

    return b.data;
}


static void
default_params(miroir_merge_params_t *p)
{
    memset(p, 0, sizeof(*p));
    p->limit = 20;
    p->page = 1;
    p->hits_per_page = 20;
    p->max_total_hits = 1000;
    p->facets.max_values = 100;
}


/* Spans of the hits of a merged answer. */
static size_t
out_hits(const char *out, size_t len, miroir_span_t *hits, size_t max)
{
    miroir_span_t   doc, k, v, h;
    miroir_jiter_t  it, ai;
    size_t          n = 0;

    ck_assert_int_eq(miroir_jspan_doc(out, len, &doc), MIROIR_OK);
    ck_assert(miroir_jobj_begin(&it, doc, 0));
    ck_assert_int_eq(miroir_jobj_next(&it, &k, &v), 1);
    ck_assert(miroir_jspan_key_eq(k, "hits"));
    ck_assert(miroir_jarr_begin(&ai, v, 0));
    while (miroir_jarr_next(&ai, &h) == 1) {
        ck_assert_uint_lt(n, max);
        hits[n++] = h;
    }

    return n;
}


START_TEST(test_merge_golden)
{
    const golden_step_t    *g = &golden[_i];
    miroir_merge_params_t   p;
    miroir_merge_t         *m;
    miroir_error_t          err;
    miroir_span_t           hits[8];
    const char             *per[3][8];
    size_t                  nper[3], k, s, i, j, n, len, used;
    char                   *bodies[3], *out;

    for (k = 1; k <= 3; k++) {
        for (s = 0; s < 4; s++) {
            memset(nper, 0, sizeof(nper));
            for (i = 0; i < g->n; i++) {
                j = (i * 5 + s + i * i * s) % k;
                per[j][nper[j]++] = g->hits[i];
            }

            default_params(&p);
            p.show_ranking_score = strstr(g->plain[0], "_rankingScore")
                                   != NULL;
            ck_assert_int_eq(miroir_merge_create(&p, k, &m, &err), MIROIR_OK);
            for (j = k; j-- > 0; ) {      /* answers arrive in any order */
                bodies[j] = node_body(per[j], nper[j], nper[j], NULL);
                ck_assert_msg(miroir_merge_add(m, j, bodies[j],
                                               strlen(bodies[j]), &err)
                              == MIROIR_OK, "%s", err.message);
            }
            ck_assert_int_eq(miroir_merge_result(m, 7, &out, &len, &err),
                             MIROIR_OK);

            n = out_hits(out, len, hits, 8);
            ck_assert_uint_eq(n, g->n);

            used = 0;
            for (i = 0; i < n; i++) {
                for (j = 0; j < g->n; j++) {
                    if (strlen(g->plain[j]) == hits[i].len
                        && memcmp(g->plain[j], hits[i].p, hits[i].len) == 0
                        && !(used & (1u << j)))
                    {
                        break;
                    }
                }
                ck_assert_msg(j < g->n, "%s: hit %zu not byte-exact: %.*s",
                              g->name, i, (int) hits[i].len, hits[i].p);
                used |= 1u << j;
                /* same details as the real node's hit at this rank */
                ck_assert_msg(strcmp(g->details[j], g->details[i]) == 0,
                              "%s k=%zu s=%zu: rank %zu", g->name, k, s, i);
            }

            free(out);
            miroir_merge_free(m);
            for (j = 0; j < k; j++) {
                free(bodies[j]);
            }
        }
    }
}
END_TEST


#define D(w, v)  "{\"words\":{\"order\":0,\"score\":" #w "},\"year:desc\":" \
                 "{\"order\":1,\"value\":" #v "}}"

START_TEST(test_merge_exact_text)
{
    static const char *const  a[] = {
        "{\"id\":1,\"rating\":9.0,\"_rankingScore\":0.9,"
        "\"_rankingScoreDetails\":" D(1.0, 2001) "}",
        "{\"id\":2,\"t\":\"\\u00e9\",\"_miroir_o0\":\"n1\","
        "\"_rankingScoreDetails\":" D(0.5, 2010) ",\"_rankingScore\":0.5}",
    };
    static const char *const  b[] = {
        "{\"id\":3,\"year\":2020,\"_formatted\":{\"id\":\"3\",\"year\":"
        "\"2020\",\"_miroir_shard\":\"7\"},\"_rankingScoreDetails\":"
        D(1.0, 2020) "}",
        "{ \"id\" : 4 , \"_rankingScoreDetails\":" D(0.5, 2010) ","
        "\"_matchesPosition\":{\"_miroir_o0\":[{\"start\":0,\"length\":2}],"
        "\"t\":[]}}",
    };
    static const char *const  strip[] = { "year" };
    miroir_merge_params_t     p;
    miroir_merge_t           *m;
    miroir_error_t            err;
    char                     *ba, *bb, *out;
    size_t                    len;

    default_params(&p);
    p.show_ranking_score = 1;
    p.strip_attrs = strip;
    p.nstrip_attrs = 1;
    p.request_uid = "0190-x";

    ba = node_body(a, 2, 5, NULL);
    bb = node_body(b, 2, 7, NULL);

    ck_assert_int_eq(miroir_merge_create(&p, 2, &m, &err), MIROIR_OK);
    ck_assert_int_eq(miroir_merge_add(m, 1, bb, strlen(bb), &err), MIROIR_OK);
    ck_assert_int_eq(miroir_merge_add(m, 0, ba, strlen(ba), &err), MIROIR_OK);
    ck_assert_int_eq(miroir_merge_add(m, 0, ba, strlen(ba), &err),
                     MIROIR_EINVAL);
    ck_assert_int_eq(miroir_merge_result(m, 12, &out, &len, &err), MIROIR_OK);

    ck_assert_str_eq(out,
        "{\"hits\":["
        "{\"id\":3,\"_formatted\":{\"id\":\"3\"}},"
        "{\"id\":1,\"rating\":9.0,\"_rankingScore\":0.9},"
        "{\"id\":2,\"t\":\"\\u00e9\",\"_rankingScore\":0.5},"
        "{\"id\":4,\"_matchesPosition\":{\"t\":[]}}],"
        "\"query\":\"q\",\"processingTimeMs\":12,\"limit\":20,\"offset\":0,"
        "\"estimatedTotalHits\":12,\"requestUid\":\"0190-x\"}");
    ck_assert_uint_eq(len, strlen(out));

    free(out);
    miroir_merge_free(m);
    free(ba);
    free(bb);
}
END_TEST


/* Node answers with hits h0..h(n-1), one hit per id, all tied. */
static void
run_window(miroir_merge_params_t *p, size_t nhits, uint64_t total,
    const char *expect)
{
    char            *hits[64], *body, *out;
    const char      *hp[64];
    size_t           i, len;
    miroir_merge_t  *m;
    miroir_error_t   err;

    for (i = 0; i < nhits; i++) {
        hits[i] = malloc(32);
        snprintf(hits[i], 32, "{\"id\":%zu}", i);
        hp[i] = hits[i];
    }

    body = node_body(hp, nhits, total, NULL);

    ck_assert_int_eq(miroir_merge_create(p, 2, &m, &err), MIROIR_OK);
    ck_assert_int_eq(miroir_merge_add(m, 1, body, strlen(body), &err),
                     MIROIR_OK);
    ck_assert_int_eq(miroir_merge_result(m, 1, &out, &len, &err), MIROIR_OK);
    ck_assert_str_eq(out, expect);

    free(out);
    miroir_merge_free(m);
    free(body);
    for (i = 0; i < nhits; i++) {
        free(hits[i]);
    }
}


START_TEST(test_merge_pagination)
{
    miroir_merge_params_t  p;

    /* §6.2, verified on 1.50: maxTotalHits 25, 60 matches */
    default_params(&p);
    p.max_total_hits = 25;
    p.offset = 20;
    p.limit = 10;
    run_window(&p, 30, 60,
        "{\"hits\":[{\"id\":20},{\"id\":21},{\"id\":22},{\"id\":23},"
        "{\"id\":24}],\"query\":\"q\",\"processingTimeMs\":1,\"limit\":10,"
        "\"offset\":20,\"estimatedTotalHits\":60}");

    default_params(&p);
    p.max_total_hits = 25;
    p.page_mode = 1;
    p.page = 3;
    p.hits_per_page = 10;
    run_window(&p, 30, 60,
        "{\"hits\":[{\"id\":20},{\"id\":21},{\"id\":22},{\"id\":23},"
        "{\"id\":24}],\"query\":\"q\",\"processingTimeMs\":1,"
        "\"hitsPerPage\":10,\"page\":3,\"totalPages\":6,\"totalHits\":60}");

    /* page 0: no hits; hitsPerPage 0: no hits, no pages */
    default_params(&p);
    p.page_mode = 1;
    p.page = 0;
    p.hits_per_page = 4;
    run_window(&p, 5, 5,
        "{\"hits\":[],\"query\":\"q\",\"processingTimeMs\":1,"
        "\"hitsPerPage\":4,\"page\":0,\"totalPages\":2,\"totalHits\":5}");

    default_params(&p);
    p.page_mode = 1;
    p.hits_per_page = 0;
    run_window(&p, 5, 5,
        "{\"hits\":[],\"query\":\"q\",\"processingTimeMs\":1,"
        "\"hitsPerPage\":0,\"page\":1,\"totalPages\":0,\"totalHits\":5}");

    /* legacy cap, offset past the end, huge values do not overflow */
    default_params(&p);
    p.cap_totals = 1;
    p.max_total_hits = 3;
    p.offset = UINT64_MAX;
    p.limit = UINT64_MAX;
    run_window(&p, 5, 5,
        "{\"hits\":[],\"query\":\"q\",\"processingTimeMs\":1,"
        "\"limit\":18446744073709551615,\"offset\":18446744073709551615,"
        "\"estimatedTotalHits\":3}");

    /* what the nodes are asked */
    default_params(&p);
    p.offset = 7;
    p.limit = 5;
    ck_assert_uint_eq(miroir_merge_node_limit(&p), 12);
    p.max_total_hits = 10;
    ck_assert_uint_eq(miroir_merge_node_limit(&p), 10);
    p.page_mode = 1;
    p.page = 3;
    p.hits_per_page = 2;
    ck_assert_uint_eq(miroir_merge_node_limit(&p), 6);
    p.page = 0;
    ck_assert_uint_eq(miroir_merge_node_limit(&p), 0);

    default_params(&p);
    p.page_mode = 1;
    p.page = UINT64_MAX;
    p.hits_per_page = UINT64_MAX;
    run_window(&p, 2, 2,
        "{\"hits\":[],\"query\":\"q\",\"processingTimeMs\":1,"
        "\"hitsPerPage\":18446744073709551615,"
        "\"page\":18446744073709551615,\"totalPages\":1,\"totalHits\":2}");
}
END_TEST


START_TEST(test_merge_facets)
{
    static const char *const  none[] = { NULL };
    static const miroir_facet_rule_t  rules[] = {
        { "*", MIROIR_FACET_ALPHA }, { "genres", MIROIR_FACET_COUNT } };
    miroir_merge_params_t  p;
    miroir_merge_t        *m;
    miroir_error_t         err;
    char                  *a, *b, *out;
    size_t                 len;

    a = node_body(none, 0, 3,
        ",\"facetDistribution\":{\"genres\":{\"action\":2,\"drama\":1},"
        "\"year\":{\"1990\":1,\"2008\":2}},\"facetStats\":{\"year\":"
        "{\"min\":1990.0,\"max\":2008.0}}");
    b = node_body(none, 0, 4,
        ",\"facetDistribution\":{\"genres\":{\"drama\":3,\"war\":1},"
        "\"year\":{\"1985\":4}},\"facetStats\":{\"year\":"
        "{\"min\":1985.0,\"max\":1985.0}}");

    default_params(&p);
    p.limit = 0;
    p.facets.rules = rules;
    p.facets.nrules = 2;
    p.facets.max_values = 2;

    ck_assert_int_eq(miroir_merge_create(&p, 2, &m, &err), MIROIR_OK);
    ck_assert_int_eq(miroir_merge_add(m, 0, a, strlen(a), &err), MIROIR_OK);
    ck_assert_int_eq(miroir_merge_add(m, 1, b, strlen(b), &err), MIROIR_OK);
    ck_assert_int_eq(miroir_merge_result(m, 0, &out, &len, &err), MIROIR_OK);
    ck_assert_str_eq(out,
        "{\"hits\":[],\"query\":\"q\",\"processingTimeMs\":0,\"limit\":0,"
        "\"offset\":0,\"estimatedTotalHits\":7,\"facetDistribution\":"
        "{\"genres\":{\"drama\":4,\"action\":2},\"year\":{\"1985\":4,"
        "\"1990\":1}},\"facetStats\":{\"year\":{\"min\":1985.0,"
        "\"max\":2008.0}}}");

    free(out);
    miroir_merge_free(m);
    free(a);
    free(b);
}
END_TEST


/* golden search-distinct: one hit per director, missing never collides */
START_TEST(test_merge_distinct)
{
    static const char *const  a[] = {
        "{\"id\":1,\"director\":\"Christopher Nolan\","
        "\"_rankingScoreDetails\":{\"words\":{\"order\":0,\"score\":1.0}}}",
        "{\"id\":9,\"_rankingScoreDetails\":{\"words\":{\"order\":0,"
        "\"score\":0.5}}}",
        "{\"id\":7,\"director\":[\"X\",7],\"_rankingScoreDetails\":"
        "{\"words\":{\"order\":0,\"score\":0.2}}}",
    };
    static const char *const  b[] = {
        "{\"id\":23,\"director\":\"christopher nolan\","
        "\"_rankingScoreDetails\":{\"words\":{\"order\":0,\"score\":0.9}}}",
        "{\"id\":2,\"director\":\"Alex Proyas\",\"_rankingScoreDetails\":"
        "{\"words\":{\"order\":0,\"score\":0.5}}}",
        "{\"id\":11,\"director\":null,\"_rankingScoreDetails\":"
        "{\"words\":{\"order\":0,\"score\":0.4}}}",
        "{\"id\":12,\"director\":[7.0],\"_rankingScoreDetails\":"
        "{\"words\":{\"order\":0,\"score\":0.1}}}",
    };
    static const char *const  strip[] = { "director" };
    miroir_merge_params_t     p;
    miroir_merge_t           *m;
    miroir_error_t            err;
    char                     *ba, *bb, *out;
    size_t                    len;
    int                       complete;

    for (complete = 0; complete < 2; complete++) {
        default_params(&p);
        p.distinct_attr = "director";
        p.strip_attrs = strip;
        p.nstrip_attrs = 1;
        p.limit = 3;

        ba = node_body(a, 3, complete ? 3 : 30, NULL);
        bb = node_body(b, 4, complete ? 4 : 40, NULL);
        ck_assert_int_eq(miroir_merge_create(&p, 2, &m, &err), MIROIR_OK);
        ck_assert_int_eq(miroir_merge_add(m, 0, ba, strlen(ba), &err),
                         MIROIR_OK);
        ck_assert_int_eq(miroir_merge_add(m, 1, bb, strlen(bb), &err),
                         MIROIR_OK);
        ck_assert_int_eq(miroir_merge_result(m, 0, &out, &len, &err),
                         MIROIR_OK);

        /* 1, [23 dropped], 9, 2, 11, 7, [12 dropped: 7 taken by 7] */
        ck_assert_str_eq(out, complete
            ? "{\"hits\":[{\"id\":1},{\"id\":9},{\"id\":2}],"
              "\"query\":\"q\",\"processingTimeMs\":0,\"limit\":3,"
              "\"offset\":0,\"estimatedTotalHits\":5}"
            : "{\"hits\":[{\"id\":1},{\"id\":9},{\"id\":2}],"
              "\"query\":\"q\",\"processingTimeMs\":0,\"limit\":3,"
              "\"offset\":0,\"estimatedTotalHits\":69}");

        free(out);
        miroir_merge_free(m);
        free(ba);
        free(bb);
    }
}
END_TEST


static const char *const  garbage[] = {
    "",
    "{",
    "{\"hits\":[{\"id\":1}",
    "{\"hits\":[{\"id\":1}]",
    "{\"hits\":[{\"id\":1}]} x",
    "[]",
    "{\"hits\":{}}",
    "{\"hits\":[1]}",
    "{\"message\":\"boom\",\"code\":\"internal\",\"type\":\"internal\"}",
    "{\"hits\":[{\"id\":1,\"_rankingScoreDetails\":[]}]}",
    "{\"hits\":[{\"id\":1,\"_rankingScoreDetails\":{\"words\":{}}}]}",
    "{\"hits\":[],\"estimatedTotalHits\":-1}",
    "{\"hits\":[],\"estimatedTotalHits\":\"3\"}",
    "{\"hits\":[],\"facetDistribution\":{\"g\":{\"a\":\"1\"}}}",
    "{\"hits\":[],\"facetStats\":{\"g\":{\"min\":1}}}",
    "{\"hits\":[\"\\x\"]}",
    "{\"hits\":[{\"a\":01}]}",
    "{\"hits\":[{\"a\":1.}]}",
    "{\"hits\":[{\"a\":tru}]}",
    "{\"hits\":[{\"a\":1,}]}",
    "{\"hits\":[{\"a\" 1}]}",
    "{\"hits\":[{,}]}",
    "{\"hits\":[1,]}",
    "{\"hits\":[\"a\tb\"]}",
};


START_TEST(test_merge_garbage)
{
    const char            *g = garbage[_i];
    miroir_merge_params_t  p;
    miroir_merge_t        *m;
    miroir_error_t         err;
    char                  *out, buf[512];
    size_t                 len;

    default_params(&p);
    ck_assert_int_eq(miroir_merge_create(&p, 1, &m, &err), MIROIR_OK);
    memset(&err, 0, sizeof(err));
    ck_assert_msg(miroir_merge_add(m, 0, g, strlen(g), &err) == MIROIR_ERROR,
                  "accepted: %s", g);
    ck_assert_int_eq(err.status, 500);
    ck_assert_str_eq(err.code, "internal");
    ck_assert_uint_gt(miroir_error_json(&err, buf, sizeof(buf)), 0);

    /* the node counts as not answered; the merge still works */
    ck_assert_int_eq(miroir_merge_result(m, 0, &out, &len, &err), MIROIR_OK);
    ck_assert_str_eq(out, "{\"hits\":[],\"query\":\"\",\"processingTimeMs\":0,"
                     "\"limit\":20,\"offset\":0,\"estimatedTotalHits\":0}");
    free(out);
    miroir_merge_free(m);
}
END_TEST


/*
 * Ranking details a one-node merge only checks (it compares nothing): it
 * must accept and refuse exactly what a merge of two nodes does.
 */
static const char  *one_node_details[] = {
    "{\"words\":{\"order\":0,\"score\":1.0}}",
    "{}",
    "{\"words\":{\"score\":1.0}}",
    "{\"words\":{\"order\":\"0\",\"score\":1.0}}",
    "{\"words\":1}",
    "[]",
    "null",
    "{\"words\":{\"order\":\"x\",\"order\":1,\"score\":1}}",
    "{\"words\":{\"order\":1,\"order\":\"x\",\"score\":1}}",
    "{\"words\":{\"order\":0,\"score\":1},\"x\":{\"y\":[{\"z\":{}}]}}",
    "{\"words\":{\"order\":0,\"score\":1},\"x\":{\"order\":1,\"y\":[1,]}}",
    "{\"a:asc\":{\"order\":0,\"value\":\"b\\u00e9\\\"\"}}",
    "{\"words\":{\"order\":0,\"score\":1}}, \"_rankingScoreDetails\":"
        "{\"words\":{\"score\":1}}",
    "{\"words\":{\"score\":1}}, \"_rankingScoreDetails\":"
        "{\"words\":{\"order\":0,\"score\":1}}",
    "K",    /* 65 kept entries: too many rules */
    "I",    /* 65 entries, one ignored: accepted */
};


static char *
one_node_body(const char *d)
{
    char    *b, *p;
    size_t   i, n;
    int      ignore;

    b = malloc(16384);
    ck_assert_ptr_nonnull(b);
    p = b + sprintf(b, "{\"hits\":[{\"id\":1,\"_rankingScoreDetails\":");

    if (strcmp(d, "K") == 0 || strcmp(d, "I") == 0) {
        ignore = (d[0] == 'I');
        n = 65;
        *p++ = '{';
        for (i = 0; i < n; i++) {
            p += sprintf(p, "%s\"r%zu\":{\"order\":%zu%s}", i ? "," : "", i,
                         i, ignore && i == 7 ? "" : ",\"score\":0.5");
        }
        *p++ = '}';
        *p = '\0';

    } else {
        p += sprintf(p, "%s", d);
    }

    sprintf(p, "}],\"estimatedTotalHits\":1}");

    return b;
}


START_TEST(test_merge_one_node_details)
{
    miroir_merge_params_t  p;
    miroir_merge_t        *m1, *m2;
    miroir_error_t         e1, e2;
    miroir_rc_t            r1, r2;
    char                  *body, *o1, *o2;
    size_t                 l1, l2;

    body = one_node_body(one_node_details[_i]);
    default_params(&p);
    p.show_ranking_score_details = 1;

    ck_assert_int_eq(miroir_merge_create(&p, 1, &m1, &e1), MIROIR_OK);
    ck_assert_int_eq(miroir_merge_create(&p, 2, &m2, &e2), MIROIR_OK);
    memset(&e1, 0, sizeof(e1));
    memset(&e2, 0, sizeof(e2));

    r1 = miroir_merge_add(m1, 0, body, strlen(body), &e1);
    r2 = miroir_merge_add(m2, 0, body, strlen(body), &e2);
    ck_assert_msg(r1 == r2, "%s: one node %d, two %d", body, r1, r2);
    ck_assert_str_eq(e1.message, e2.message);

    ck_assert_int_eq(miroir_merge_result(m1, 0, &o1, &l1, &e1), MIROIR_OK);
    ck_assert_int_eq(miroir_merge_result(m2, 0, &o2, &l2, &e2), MIROIR_OK);
    ck_assert_str_eq(o1, o2);

    /* the cases above are meant to cover both outcomes */
    if (_i == 0 || _i == 1 || _i == 15) {
        ck_assert_int_eq(r1, MIROIR_OK);
    }
    if (_i == 2 || _i == 14) {
        ck_assert_int_ne(r1, MIROIR_OK);
    }

    free(o1);
    free(o2);
    free(body);
    miroir_merge_free(m1);
    miroir_merge_free(m2);
}
END_TEST


START_TEST(test_merge_deep_nesting)
{
    char                   buf[4096];
    size_t                 i, n;
    miroir_merge_params_t  p;
    miroir_merge_t        *m;
    miroir_error_t         err;

    n = (size_t) snprintf(buf, sizeof(buf), "{\"hits\":[{\"a\":");
    for (i = 0; i < 1000; i++) {
        buf[n++] = '[';
    }
    for (i = 0; i < 1000; i++) {
        buf[n++] = ']';
    }
    n += (size_t) snprintf(buf + n, sizeof(buf) - n, "}]}");

    default_params(&p);
    ck_assert_int_eq(miroir_merge_create(&p, 1, &m, &err), MIROIR_OK);
    ck_assert_int_eq(miroir_merge_add(m, 0, buf, n, &err), MIROIR_ERROR);
    miroir_merge_free(m);

    ck_assert_int_eq(miroir_merge_create(&p, 0, &m, &err), MIROIR_EINVAL);
    ck_assert_int_eq(miroir_merge_create(&p, MIROIR_MAX_NODES + 1, &m, &err),
                     MIROIR_EINVAL);
}
END_TEST


/*
 * Property: random hits with random details over a fixed random rule
 * list, split over k nodes; each node lists its hits sorted by an
 * independent reference comparator (stable by hit id).  The merge must
 * equal the reference sort of all hits, ties by (node, id), for every
 * offset/limit and page window.
 */

typedef struct {
    int     kind[6];       /* 0 score, 1 sort asc, 2 sort desc,
                              3 geo asc, 4 geo desc */
    size_t  n;
} prop_rules_t;

typedef struct {
    size_t  id;
    size_t  node;
    double  v[6];
    int     vt[6];         /* sort: 0 null, 1 num, 2 str */
    char    s[6][4];
    char    text[512];
} prop_hit_t;


static uint64_t
lcg(uint64_t *st)
{
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    return *st >> 33;
}


static int
ref_cmp(const prop_rules_t *r, const prop_hit_t *a, const prop_hit_t *b)
{
    size_t  i;
    int     c, asc;

    for (i = 0; i < r->n; i++) {
        if (r->kind[i] == 0) {
            if (a->v[i] != b->v[i]) {
                return a->v[i] > b->v[i] ? -1 : 1;
            }
            continue;
        }

        asc = r->kind[i] == 1 || r->kind[i] == 3;

        if (r->kind[i] >= 3) {
            /* geo: missing distance last, asc nearer first */
            if ((a->vt[i] == 0) != (b->vt[i] == 0)) {
                return a->vt[i] == 0 ? 1 : -1;
            }
            if (a->vt[i] != 0 && a->v[i] != b->v[i]) {
                c = a->v[i] < b->v[i] ? -1 : 1;
                return asc ? c : -c;
            }
            continue;
        }

        if (a->vt[i] != b->vt[i]) {
            if (a->vt[i] == 0 || b->vt[i] == 0) {
                return a->vt[i] == 0 ? 1 : -1;      /* null last */
            }
            return a->vt[i] == 1 ? -1 : 1;          /* numbers first */
        }

        if (a->vt[i] == 1 && a->v[i] != b->v[i]) {
            c = a->v[i] < b->v[i] ? -1 : 1;
            return asc ? c : -c;
        }

        if (a->vt[i] == 2) {
            c = strcmp(a->s[i], b->s[i]);
            if (c != 0) {
                c = c < 0 ? -1 : 1;
                return asc ? c : -c;
            }
        }
    }

    return 0;
}


static void
prop_text(const prop_rules_t *r, prop_hit_t *h)
{
    size_t  i, n;

    n = (size_t) snprintf(h->text, sizeof(h->text),
                          "{\"id\":%zu,\"_rankingScoreDetails\":{", h->id);
    for (i = 0; i < r->n; i++) {
        if (r->kind[i] == 0) {
            n += (size_t) snprintf(h->text + n, sizeof(h->text) - n,
                                   "%s\"r%zu\":{\"order\":%zu,\"score\":%.17g}",
                                   i ? "," : "", i, i, h->v[i]);
        } else if (r->kind[i] >= 3) {
            n += (size_t) snprintf(h->text + n, sizeof(h->text) - n,
                                   "%s\"_geoPoint(%zu, 0):%s\":{\"order\":%zu,"
                                   "\"value\":null,\"distance\":",
                                   i ? "," : "", i,
                                   r->kind[i] == 3 ? "asc" : "desc", i);
            if (h->vt[i] == 0) {
                n += (size_t) snprintf(h->text + n, sizeof(h->text) - n,
                                       "null}");
            } else {
                n += (size_t) snprintf(h->text + n, sizeof(h->text) - n,
                                       "%.17g}", h->v[i]);
            }
        } else {
            n += (size_t) snprintf(h->text + n, sizeof(h->text) - n,
                                   "%s\"f%zu:%s\":{\"order\":%zu,\"value\":",
                                   i ? "," : "", i,
                                   r->kind[i] == 1 ? "asc" : "desc", i);
            if (h->vt[i] == 0) {
                n += (size_t) snprintf(h->text + n, sizeof(h->text) - n,
                                       "null}");
            } else if (h->vt[i] == 1) {
                n += (size_t) snprintf(h->text + n, sizeof(h->text) - n,
                                       "%.17g}", h->v[i]);
            } else {
                n += (size_t) snprintf(h->text + n, sizeof(h->text) - n,
                                       "\"%s\"}", h->s[i]);
            }
        }
    }
    snprintf(h->text + n, sizeof(h->text) - n, "}}");
}


/* sort ptrs by ref_cmp, then node, then id (insertion sort; n small) */
static void
prop_sort(const prop_rules_t *r, prop_hit_t **v, size_t n)
{
    size_t       i, j;
    prop_hit_t  *t;
    int          c;

    for (i = 1; i < n; i++) {
        t = v[i];
        for (j = i; j > 0; j--) {
            c = ref_cmp(r, v[j - 1], t);
            if (c == 0) {
                c = v[j - 1]->node != t->node
                    ? (v[j - 1]->node > t->node ? 1 : -1)
                    : (v[j - 1]->id > t->id ? 1 : -1);
            }
            if (c <= 0) {
                break;
            }
            v[j] = v[j - 1];
        }
        v[j] = t;
    }
}


START_TEST(test_merge_property)
{
    static const char  *strs[] = { "a", "ab", "b", "ba", "z" };
    static const double scores[] = { 0.25, 0.5, 0.75, 1.0 };
    uint64_t            st = 0x5eed0000ULL + (uint64_t) _i;
    prop_rules_t        r;
    prop_hit_t         *hits, **all, **per;
    const char        **texts;
    char               *bodies[8], *out;
    size_t              nh, k, i, j, c, nper, n, len, off, lim, cap;
    miroir_merge_params_t  p;
    miroir_merge_t     *m;
    miroir_error_t      err;
    miroir_span_t       oh[80];
    uint64_t            start, end;
    int                 trial, page_mode;

    nh = lcg(&st) % 60;
    k = 1 + lcg(&st) % 8;
    r.n = lcg(&st) % 6;
    for (i = 0; i < r.n; i++) {
        r.kind[i] = (int) (lcg(&st) % 5);
    }

    hits = calloc(nh + 1, sizeof(*hits));
    all = calloc(nh + 1, sizeof(*all));
    per = calloc(nh + 1, sizeof(*per));
    texts = calloc(nh + 1, sizeof(*texts));

    for (i = 0; i < nh; i++) {
        hits[i].id = i;
        hits[i].node = lcg(&st) % k;
        for (j = 0; j < r.n; j++) {
            if (r.kind[j] == 0) {
                hits[i].v[j] = scores[lcg(&st) % 4];
            } else {
                hits[i].vt[j] = (int) (lcg(&st) % 3);
                hits[i].v[j] = (double) (lcg(&st) % 5) - 2.5;
                strcpy(hits[i].s[j], strs[lcg(&st) % 5]);
            }
        }
        prop_text(&r, &hits[i]);
        all[i] = &hits[i];
    }

    prop_sort(&r, all, nh);

    for (c = 0; c < k; c++) {
        nper = 0;
        for (i = 0; i < nh; i++) {
            if (all[i]->node == c) {
                texts[nper++] = all[i]->text;
            }
        }
        bodies[c] = node_body(texts, nper, nper, NULL);
    }

    for (trial = 0; trial < 12; trial++) {
        default_params(&p);
        page_mode = trial & 1;
        off = lcg(&st) % (nh + 5);
        lim = lcg(&st) % (nh + 5);
        cap = trial % 3 == 0 ? 1 + lcg(&st) % (nh + 2) : 1000;
        p.max_total_hits = cap;

        if (page_mode) {
            p.page_mode = 1;
            p.page = lcg(&st) % 6;
            p.hits_per_page = lcg(&st) % 12;
            start = p.page ? (p.page - 1) * p.hits_per_page : 0;
            end = p.page ? start + p.hits_per_page : 0;
        } else {
            p.offset = off;
            p.limit = lim;
            start = off;
            end = off + lim;
        }
        start = start < cap ? start : cap;
        end = end < cap ? end : cap;
        end = end < nh ? end : nh;
        start = start < end ? start : end;

        ck_assert_int_eq(miroir_merge_create(&p, k, &m, &err), MIROIR_OK);
        for (i = 0; i < k; i++) {           /* arrival order varies */
            c = (i + (size_t) trial) % k;
            ck_assert_int_eq(miroir_merge_add(m, c, bodies[c],
                                              strlen(bodies[c]), &err),
                             MIROIR_OK);
        }
        ck_assert_int_eq(miroir_merge_result(m, 0, &out, &len, &err),
                         MIROIR_OK);

        n = out_hits(out, len, oh, 80);
        ck_assert_uint_eq(n, end - start);
        for (i = 0; i < n; i++) {
            char  want[32];
            int   wl;

            wl = snprintf(want, sizeof(want), "{\"id\":%zu}",
                          all[start + i]->id);
            ck_assert_msg(oh[i].len == (size_t) wl
                          && memcmp(oh[i].p, want, (size_t) wl) == 0,
                          "seed %d trial %d rank %zu: got %.*s want %s",
                          _i, trial, start + i, (int) oh[i].len, oh[i].p,
                          want);
        }

        free(out);
        miroir_merge_free(m);
    }

    for (c = 0; c < k; c++) {
        free(bodies[c]);
    }
    free(hits);
    free(all);
    free(per);
    free(texts);
}
END_TEST


static Suite *
merge_suite(void)
{
    Suite  *s = suite_create("merge");
    TCase  *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_merge_golden, 0,
                        sizeof(golden) / sizeof(golden[0]));
    tcase_add_test(tc, test_merge_exact_text);
    tcase_add_test(tc, test_merge_pagination);
    tcase_add_test(tc, test_merge_facets);
    tcase_add_test(tc, test_merge_distinct);
    tcase_add_loop_test(tc, test_merge_garbage, 0,
                        sizeof(garbage) / sizeof(garbage[0]));
    tcase_add_test(tc, test_merge_deep_nesting);
    tcase_add_loop_test(tc, test_merge_one_node_details, 0,
                        sizeof(one_node_details) / sizeof(one_node_details[0]));
    tcase_add_loop_test(tc, test_merge_property, 0, 300);
    suite_add_tcase(s, tc);

    return s;
}


int
main(void)
{
    SRunner  *sr = srunner_create(merge_suite());
    int       failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
