# The task log survives a reload (SIGHUP): nginx keeps running, the zone is
# kept, and a task written before the reload is still answered after it,
# with the uid sequence going on; the state directory belongs to the
# worker user, who appends to the task log.

use Test::Nginx::Socket;
use Miroir::Nodes;
use Miroir::Cluster;

Miroir::Cluster::setup(state => 1);

use_hup();
no_root_location();
repeat_each(1);
plan tests => repeat_each() * 5 * 4 + 2;
no_shuffle();
run_tests();

ok(-s "$ENV{TEST_NGINX_MIROIR_STATE}/tasks-main.log", 'the task log is written');
my $lines = 0;
if (open my $fh, '<', "$ENV{TEST_NGINX_MIROIR_STATE}/tasks-main.log") {
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
