# The task log survives a reload (SIGHUP): nginx keeps running, the zone is
# kept, and a task written before the reload is still answered after it,
# with the uid sequence going on; the state directory belongs to the
# worker user, who appends to the task log.

use Test::Nginx::Socket;
use Miroir::Nodes;
use File::Temp ();

our $StateDir;
BEGIN {
    $StateDir = File::Temp::tempdir(CLEANUP => 1);
    chmod 0755, $StateDir;     # the workers (nginx user) write in it
    $ENV{TEST_NGINX_MIROIR_STATE} = "$StateDir/state";
}

Miroir::Nodes::start(count => 3, master_key => 'node-key-0123456789');

our $HttpConfig = <<'_EOC_';
    miroir_zone miroir 4m;
    miroir_state $TEST_NGINX_MIROIR_STATE;
    miroir_cluster main {
        shards 64;
        replication 2;
        master_key "s3cret";
        node n1 $TEST_NGINX_NODE1 key=node-key-0123456789;
        node n2 $TEST_NGINX_NODE2 key=node-key-0123456789;
        node n3 $TEST_NGINX_NODE3 key=node-key-0123456789;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
    $block->set_value('config', "    location / { miroir main; }\n")
        unless defined $block->config;
    return $block;
});

use_hup();
no_root_location();
repeat_each(1);
plan tests => repeat_each() * 5 * 4 + 2;
no_shuffle();
run_tests();

ok(-s "$StateDir/state/tasks-main.log", 'the task log is written');
my $lines = 0;
if (open my $fh, '<', "$StateDir/state/tasks-main.log") {
    $lines++ while <$fh>;
}
cmp_ok($lines, '>=', 2, 'one line per task, one more once final');

__DATA__

=== TEST 1: a task before the reload
--- request eval
[
"POST /indexes\n{\"uid\":\"r\",\"primaryKey\":\"id\"}",
"GET /tasks/0",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[qr/"taskUid":0,/, qr/"uid":0,.*"status":"succeeded"/]
--- error_code eval
[202, 200]
--- no_error_log
[error]
[alert]



=== TEST 2: after the reload: the task is there, the sequence goes on
--- request eval
[
"GET /tasks/0",
"POST /indexes/r/documents\n[{\"id\":1}]",
"GET /tasks?limit=5",
]
--- more_headers
Authorization: Bearer s3cret
Content-Type: application/json
--- wait: 0.3
--- response_body_like eval
[
qr/^\{"uid":0,"batchUid":0,"indexUid":"r","status":"succeeded","type":"indexCreation"/,
qr/"taskUid":1,/,
qr/^\{"results":\[\{"uid":1,.*\{"uid":0,.*\],"total":2,"limit":5,"from":1,"next":null\}$/,
]
--- error_code eval
[200, 202, 200]
--- no_error_log
[error]
[alert]
