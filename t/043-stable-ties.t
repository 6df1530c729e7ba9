# stable_ties: a hidden `<primaryKey>:asc` ranking rule on the nodes, so that
# hits tied on every user rule come in primary key order (numbers before
# strings) whichever replica answers.  A 3-node RF 2 cluster with
# `stable_ties on`, 60 documents whose hits tie: the order equals the pk
# order, stays the same with a node killed or failing mid-request,
# consecutive pages partition it; the rule never shows in settings,
# ranking-rules, task details or ranking details, and it is on the nodes
# after every way rules reach them (index creation, first documents, a
# PUT/PATCH of the rules, a reset), also when the writes race the nodes'
# task queues (tasks held with the emulator's pauseTasks) and when the
# rules must be read from a node (and when that read fails: logged).
# Then `stable_ties off` (the same nodes): nothing is added, and ties are
# then not in pk order and change with a failing node (what `on` fixes).
# See docs/differences.md "stable_ties on".

use Test::Nginx::Socket;
use Miroir::Nodes;
use HTTP::Tiny;
use JSON::PP;

Miroir::Nodes::start(count => 3, master_key => 'node-key-0123456789');

my $Cluster = <<'_EOC_';
    miroir_zone miroir 2m;
    miroir_cluster main {
        shards 16;
        replication 2;
        master_key "s3cret";
        stable_ties %s;
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

my $json = JSON::PP->new->canonical;
my @DEFAULTS = qw(words typo proximity attributeRank sort wordPosition
                  exactness);

sub miroir {
    my ($method, $path, $body) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || server_port();
    return HTTP::Tiny->new(timeout => 10)->request($method,
        "http://127.0.0.1:$port$path", {
            headers => { Authorization => 'Bearer s3cret',
                         'Content-Type' => 'application/json' },
            defined $body ? (content => $body) : () });
}

sub decode { my $c = shift; return eval { $json->decode($c) }; }

# wait for a Miroir task; its final object (or undef)
sub task {
    my ($res) = @_;
    my $uid = eval { decode($res->{content})->{taskUid} };
    return undef unless defined $uid;
    for (1 .. 300) {
        my $t = decode(miroir('GET', "/tasks/$uid")->{content} // '');
        return $t if $t && $t->{status} =~ /^(succeeded|failed|canceled)$/;
        select undef, undef, undef, 0.03;
    }
    return undef;
}

sub task_ok {
    my $t = task(@_);
    return $t && $t->{status} eq 'succeeded' ? $t : undef;
}

# a node's own ranking rules (read directly, Miroir not involved)
sub node_rules {
    my ($i, $uid) = @_;
    my $res = Miroir::Nodes::http_get($i,
                                      "/indexes/$uid/settings/ranking-rules");
    return $res->{status} == 200 ? join(',', @{ decode($res->{content}) })
                                 : "status $res->{status}";
}

# wait for a node's own task; its status
sub node_wait {
    my ($i, $res) = @_;
    my $uid = eval { decode($res->{content})->{taskUid} };
    return "status $res->{status}" unless defined $uid;
    for (1 .. 300) {
        my $t = decode(Miroir::Nodes::http_get($i, "/tasks/$uid")->{content});
        return $t->{status}
            if $t && $t->{status} =~ /^(succeeded|failed|canceled)$/;
        select undef, undef, undef, 0.03;
    }
    return 'timeout';
}

sub miroir_rules {
    my ($uid) = @_;
    my $res = miroir('GET', "/indexes/$uid/settings/ranking-rules");
    return $res->{status} == 200 ? join(',', @{ decode($res->{content}) })
                                 : "status $res->{status}";
}

# the ids of a search's hits, and the decoded answer
sub ids {
    my ($uid, $body) = @_;
    my $res = miroir('POST', "/indexes/$uid/search", $json->encode($body));
    return ("status $res->{status} $res->{content}") if $res->{status} != 200;
    my $r = decode($res->{content});
    return (join(',', map { $_->{id} // '' } @{ $r->{hits} }), $r);
}

# Meilisearch's pk rule order: numbers ascending, then strings byte-wise
sub pk_order {
    my @num = sort { $a <=> $b } grep { /^\d+$/ } @_;
    my @str = sort { $a cmp $b } grep { !/^\d+$/ } @_;
    return join(',', @num, @str);
}

# 60 documents: numeric and string ids, every title "film <colour>"
my (@docs, @red);
for my $k (1 .. 60) {
    my $id = $k % 4 == 0 ? sprintf('k%d', 97 * $k % 61) : 7 * $k % 101;
    my $colour = $k % 3 ? 'red' : 'blue';
    push @docs, { id => ($id =~ /^\d+$/ ? $id + 0 : $id),
                  title => "film $colour", n => $k };
    push @red, $id if $colour eq 'red';
}
my @all = map { $_->{id} } @docs;

sub run_on {
    # index creation with a primary key: the rule is there at once
    ok(task_ok(miroir('POST', '/indexes',
                      '{"uid":"movies","primaryKey":"id"}')), 'index created');
    is(node_rules($_, 'movies'), join(',', @DEFAULTS, 'id:asc'),
       "node $_: defaults + id:asc after the creation") for 1 .. 3;
    is(miroir_rules('movies'), join(',', @DEFAULTS),
       'Miroir shows the defaults');

    ok(task_ok(miroir('POST', '/indexes/movies/documents',
                      $json->encode(\@docs))), '60 documents');

    # every hit ties: pk order
    my ($got, $r) = ids('movies', { q => '', limit => 100 });
    is($got, pk_order(@all), 'placeholder search: pk order');
    ($got) = ids('movies', { q => 'red', limit => 100 });
    is($got, pk_order(@red), 'tied relevancy: pk order');
    my $full = pk_order(@all);

    # ranking details: the rule is never shown; scores unchanged
    ($got, $r) = ids('movies', { q => 'red', limit => 5,
                                 showRankingScoreDetails => JSON::PP::true,
                                 showRankingScore => JSON::PP::true });
    my @keys = map { sort keys %{ $_->{_rankingScoreDetails} } }
               @{ $r->{hits} };
    is(scalar(grep { /id:|hidden-rule/ } @keys), 0,
       'no hidden rule in _rankingScoreDetails');
    ok(scalar(grep { $_ eq 'words' } @keys) == 5, 'the user rules stay');
    is(scalar(grep { $_->{_rankingScore} == $r->{hits}[0]{_rankingScore} }
              @{ $r->{hits} }), 5, 'tied hits: equal _rankingScore');
    ($got, $r) = ids('movies', { q => '', limit => 3,
                                 showRankingScoreDetails => JSON::PP::true });
    is($json->encode([ map { $_->{_rankingScoreDetails} } @{ $r->{hits} } ]),
       '[{},{},{}]', 'placeholder: empty details, as without the rule');
    my $res = miroir('GET', '/indexes/movies/search?q=red&limit=3'
                            . '&showRankingScoreDetails=true');
    unlike($res->{content}, qr/id:asc/, 'GET search: no hidden rule');
    $res = miroir('POST', '/multi-search', $json->encode({ queries => [
        { indexUid => 'movies', q => 'red', limit => 100,
          showRankingScoreDetails => JSON::PP::true }] }));
    $r = decode($res->{content});
    is(join(',', map { $_->{id} } @{ $r->{results}[0]{hits} }),
       pk_order(@red), 'multi-search: pk order');
    unlike($res->{content}, qr/id:asc/, 'multi-search: no hidden rule');
    $res = miroir('POST', '/multi-search', $json->encode({
        federation => { limit => 100 },
        queries => [ { indexUid => 'movies', q => 'red',
                       showRankingScoreDetails => JSON::PP::true } ] }));
    $r = decode($res->{content});
    is(join(',', map { $_->{id} } @{ $r->{hits} || [] }), pk_order(@red),
       'federated: pk order');
    unlike($res->{content}, qr/id:asc/, 'federated: no hidden rule');

    # consecutive pages never repeat or skip a hit
    my @pages;
    for (my $off = 0; $off < 60; $off += 7) {
        my ($p) = ids('movies', { q => '', offset => $off, limit => 7 });
        push @pages, $p;
    }
    is(join(',', @pages), $full, 'offset/limit pages partition the hits');
    @pages = ();
    for my $page (1 .. 6) {
        my ($p) = ids('movies', { q => '', page => $page,
                                  hitsPerPage => 11 });
        push @pages, $p;
    }
    is(join(',', @pages), $full, 'page/hitsPerPage pages partition them');

    # another replica answers: a node failing every search (mid-request
    # failover), then a node killed
    Miroir::Nodes::http_post(1, '/_meilisim/faults',
                             '{"failRoutes":"/search","errorStatus":500}');
    ($got) = ids('movies', { q => '', limit => 100 });
    is($got, $full, 'n1 failing searches: the same order');
    ($got) = ids('movies', { q => '', offset => 13, limit => 9 });
    is($got, join(',', (split /,/, $full)[13 .. 21]),
       'n1 failing searches: the same window');
    Miroir::Nodes::http_post(1, '/_meilisim/faults', '{}');

    # settings: the user's rules as written; the nodes add id:asc
    my $t = task_ok(miroir('PUT', '/indexes/movies/settings/ranking-rules',
                           '["words","typo","exactness"]'));
    ok($t, 'PUT ranking-rules');
    is($json->encode($t->{details}),
       '{"rankingRules":["words","typo","exactness"]}',
       'task details: the user rules only');
    is(miroir_rules('movies'), 'words,typo,exactness', 'GET ranking-rules');
    is(node_rules(2, 'movies'), 'words,typo,exactness,id:asc',
       'node: + id:asc');
    $res = miroir('GET', '/indexes/movies/settings');
    is(join(',', @{ decode($res->{content})->{rankingRules} }),
       'words,typo,exactness', 'GET settings');
    $res = miroir('GET', '/tasks?indexUids=movies&types=settingsUpdate');
    unlike($res->{content}, qr/id:asc/, 'GET /tasks: no hidden rule');

    # the user's own id:asc: kept and shown; id:desc marks the list
    $t = task_ok(miroir('PATCH', '/indexes/movies/settings',
                        '{"rankingRules":["words","id:asc"]}'));
    is($json->encode($t && $t->{details}),
       '{"rankingRules":["words","id:asc"]}', 'PATCH: details as sent');
    is(miroir_rules('movies'), 'words,id:asc', "the user's id:asc is shown");
    is(node_rules(3, 'movies'), 'words,id:asc,id:desc',
       'node: id:desc after it');
    ($got) = ids('movies', { q => 'red', limit => 100 });
    is($got, pk_order(@red), "the user's id:asc orders the hits");

    # resets keep the rule on the nodes
    $t = task_ok(miroir('DELETE', '/indexes/movies/settings/ranking-rules'));
    is($json->encode($t && $t->{details}),
       $json->encode({ rankingRules => \@DEFAULTS }),
       'reset ranking-rules: details are the defaults');
    is(node_rules($_, 'movies'), join(',', @DEFAULTS, 'id:asc'),
       "reset ranking-rules: node $_ keeps id:asc") for 1 .. 3;
    ok(task_ok(miroir('PATCH', '/indexes/movies/settings',
                      '{"rankingRules":["typo"]}')), 'rules set');
    ok(task_ok(miroir('DELETE', '/indexes/movies/settings')),
       'reset of all settings');
    is(node_rules($_, 'movies'), join(',', @DEFAULTS, 'id:asc'),
       "reset settings: node $_ keeps id:asc") for 1 .. 3;
    is(miroir_rules('movies'), join(',', @DEFAULTS), 'Miroir: defaults');
    ($got) = ids('movies', { q => '', limit => 100 });
    is($got, $full, 'after the reset: pk order');

    # a rules error is the node's own, positions unchanged
    $res = miroir('PATCH', '/indexes/movies/settings',
                  '{"rankingRules":["words","bogus"]}');
    is($res->{status}, 400, 'a bad rule: 400');
    like($res->{content}, qr/"code":"invalid_settings_ranking_rules"/,
         'the node error');
    like($res->{content}, qr/rankingRules\[1\]/, 'at the position sent');
    unlike($res->{content}, qr/id:asc/, 'the error does not name the rule');

    # an index created by its settings (no key yet), then its first
    # documents: the user's rules + id:asc
    ok(task_ok(miroir('PATCH', '/indexes/books/settings',
                      '{"rankingRules":["words","typo"]}')),
       'books: rules before any key');
    is(node_rules(1, 'books'), 'words,typo', 'no key: nothing added');
    ok(task_ok(miroir('POST', '/indexes/books/documents',
                      $json->encode([ map { +{ id => $_, t => 'same' } }
                                      (30, 4, 'x1', 12) ]))),
       'books: first documents (key inferred)');
    is(node_rules($_, 'books'), 'words,typo,id:asc',
       "books: node $_ has the user's rules + id:asc") for 1 .. 3;
    is(miroir_rules('books'), 'words,typo', 'books: Miroir shows the rules');
    ($got) = ids('books', { q => 'same' });
    is($got, '4,12,30,x1', 'books: pk order');

    # an index created by its first documents
    ok(task_ok(miroir('POST', '/indexes/fresh/documents',
                      '[{"sku_id":"b","v":1},{"sku_id":"a","v":1}]')),
       'fresh: created by documents');
    is(node_rules(2, 'fresh'), join(',', @DEFAULTS, 'sku_id:asc'),
       'fresh: defaults + sku_id:asc');
    ($got, $r) = ids('fresh', { q => '' });
    is(join(',', map { $_->{sku_id} } @{ $r->{hits} }), 'a,b', 'fresh: order');

    # writes sent before the nodes applied the earlier ones (their tasks
    # held enqueued): Miroir remembers the key and the rules it sent
    my $pause = sub {
        Miroir::Nodes::http_post($_, '/_meilisim/faults', $_[0]) for 1 .. 3;
    };
    $pause->('{"pauseTasks":true}');
    my @held = (
        miroir('POST', '/indexes/race1/documents', '[{"id":2},{"id":1}]'),
        miroir('PUT', '/indexes/race1/settings/ranking-rules',
               '["words","typo"]'),
        miroir('PATCH', '/indexes/race2/settings',
               '{"rankingRules":["words","exactness"]}'),
        miroir('POST', '/indexes/race2/documents',
               $json->encode([ map { +{ id => "d$_" } } 1 .. 20 ])),
        miroir('POST', '/indexes', '{"uid":"race3","primaryKey":"ref"}'),
        miroir('PUT', '/indexes/race3/settings/ranking-rules', '["typo"]'));
    is(join(',', map { $_->{status} } @held), '202,202,202,202,202,202',
       'writes accepted while the nodes hold their tasks');
    $pause->('{}');
    is(scalar(grep { task_ok($_) } @held), 6, 'then all succeed');
    is(node_rules(1, 'race1'), 'words,typo,id:asc',
       'rules sent before the first documents were applied: + id:asc');
    is(node_rules(2, 'race2'), 'words,exactness,id:asc',
       'documents sent before the rules were applied: the rules + id:asc');
    is(node_rules(3, 'race3'), 'typo,ref:asc',
       'rules sent before the creation was applied: + ref:asc');
    is(miroir_rules('race2'), 'words,exactness', 'race2: shown as written');

    # rules the nodes hold but Miroir does not remember (set on the nodes
    # directly): read from a node when the first documents give the key
    ok(task_ok(miroir('POST', '/indexes', '{"uid":"later"}')),
       'later: an index without a key');
    is(join(',', map { node_wait($_, Miroir::Nodes::http_put($_,
            '/indexes/later/settings/ranking-rules', '["typo","words"]')) }
            1 .. 3), 'succeeded,succeeded,succeeded',
       'later: rules set on the nodes directly');
    ok(task_ok(miroir('POST', '/indexes/later/documents',
                      $json->encode([ map { +{ id => $_ } } 1 .. 20 ]))),
       'later: first documents');
    is(node_rules($_, 'later'), 'typo,words,id:asc',
       "later: node $_ has its rules + id:asc") for 1 .. 3;

    # no node answers that read: the documents are indexed all the same
    ok(task_ok(miroir('POST', '/indexes', '{"uid":"later2"}')),
       'later2: an index without a key');
    Miroir::Nodes::http_post($_, '/_meilisim/faults',
        '{"failRoutes":"GET /indexes/later2/settings/ranking-rules"}')
        for 1 .. 3;
    ok(task_ok(miroir('POST', '/indexes/later2/documents',
                      '[{"id":1},{"id":2}]')),
       'later2: documents accepted, the rules read failing');
    Miroir::Nodes::http_post($_, '/_meilisim/faults', '{}') for 1 .. 3;
    is(node_rules(1, 'later2'), join(',', @DEFAULTS),
       'later2: no rule added');
    my $log = '';
    if (open my $fh, '<', $Test::Nginx::Util::ErrLogFile) {
        local $/;
        $log = <$fh> // '';
    }
    like($log, qr/event=ties_rules_unread cluster=main index=later2 node=n\d/,
         'later2: logged');

    # a node killed: the other replicas give the same order
    Miroir::Nodes::kill_node(2);
    ($got) = ids('movies', { q => '', limit => 100 });
    is($got, $full, 'n2 killed: the same order');
    my @pages2;
    for (my $off = 0; $off < 60; $off += 7) {
        my ($p) = ids('movies', { q => '', offset => $off, limit => 7 });
        push @pages2, $p;
    }
    is(join(',', @pages2), $full, 'n2 killed: pages partition the hits');
    Miroir::Nodes::restart_node(2);
}

sub run_off {
    ok(task_ok(miroir('POST', '/indexes',
                      '{"uid":"plain","primaryKey":"id"}')), 'off: index');
    ok(task_ok(miroir('POST', '/indexes/plain/documents',
                      $json->encode(\@docs))), 'off: documents');
    is(node_rules($_, 'plain'), join(',', @DEFAULTS),
       "off: node $_ has the defaults only") for 1 .. 3;

    # without the rule, ties come in node order: what "on" changes
    my ($plain) = ids('plain', { q => '', limit => 100 });
    isnt($plain, pk_order(@all), 'off: ties are not in pk order');
    Miroir::Nodes::http_post(1, '/_meilisim/faults',
                             '{"failRoutes":"/search","errorStatus":500}');
    my ($failover) = ids('plain', { q => '', limit => 100 });
    Miroir::Nodes::http_post(1, '/_meilisim/faults', '{}');
    is(join(',', sort split /,/, $failover), join(',', sort split /,/, $plain),
       'off: n1 failing: the same hits');
    isnt($failover, $plain, 'off: n1 failing: another tie order');
    ok(task_ok(miroir('PUT', '/indexes/plain/settings/ranking-rules',
                      '["words","id:asc"]')), 'off: rules');
    is(node_rules(1, 'plain'), 'words,id:asc', 'off: as written');
    is(miroir_rules('plain'), 'words,id:asc', 'off: shown as written');
    my ($got, $r) = ids('plain', { q => '', limit => 3,
                                   showRankingScoreDetails =>
                                       JSON::PP::true });
    like($json->encode($r->{hits}[0]{_rankingScoreDetails}), qr/id:asc/,
         "off: the user's own rule is in the details");
    # an index of the stable_ties cluster keeps its rule on the nodes, but
    # it is no longer hidden
    like(miroir_rules('movies'), qr/id:asc$/, 'off: nothing hidden');
}

add_block_preprocessor(sub {
    my $block = shift;
    my $on = $block->name =~ /TEST [12]:/;
    $block->set_value('http_config',
                      sprintf($Cluster, $on ? 'on' : 'off'));
    $block->set_value('config', "    location / { miroir main; }\n");
    run_on() if $block->name =~ /TEST 2:/;
    run_off() if $block->name =~ /TEST 4:/;
    return $block;
});

use_hup();
master_on();
workers(1);
no_root_location();
repeat_each(1);
plan tests => 4 * 3 + 88;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: stable_ties on: up
--- request
GET /health
--- response_body_like: "status"
--- no_error_log
[error]



=== TEST 2: stable ties (run by the preprocessor), then health
--- request
GET /health
--- response_body_like: "status"
--- no_error_log
[error]



=== TEST 3: stable_ties off: up
--- request
GET /health
--- response_body_like: "status"
--- no_error_log
[error]



=== TEST 4: stable_ties off (run by the preprocessor), then health
--- request
GET /health
--- response_body_like: "status"
--- no_error_log
[error]
