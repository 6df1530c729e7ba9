# Self-test of Miroir's Test::Nginx-compatible runner (t/lib/Test/Nginx),
# using only stock nginx directives, so it runs before the module builds.
# Every block here must also pass under openresty's real Test::Nginx.
# t/001-runner-fails.t proves that failing expectations really fail.

use Test::Nginx::Socket;

BEGIN { $ENV{TEST_NGINX_MIROIR_GREETING} = 'bonjour'; }

repeat_each(2);

plan tests => repeat_each() * (blocks() * 2 + 20);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: return 200 with a body
--- config
    location = /t {
        return 200 "hello";
    }
--- request
GET /t
--- response_body chomp
hello
--- no_error_log
[error]



=== TEST 2: response headers, present and absent
--- config
    location = /t {
        add_header X-Foo bar;
        add_header X-Num 12345;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
X-Foo: bar
!X-Absent
--- response_headers_like
X-Num: \d+
--- response_body
ok
--- no_error_log
[error]



=== TEST 3: error_code, response_body_like and error_log
--- config
    location /files/ {
        alias $TEST_NGINX_HTML_DIR/;
    }
--- request
GET /files/missing.txt
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log
No such file or directory
--- no_error_log
[alert]



=== TEST 4: error_log given as regexes (eval), response_body_unlike
--- config
    location = /t {
        return 403;
    }
--- request
GET /t
--- error_code: 403
--- response_body_unlike: hello
--- error_log eval
[qr/\[debug\]|\[info\]|http/, "GET /t"]
--- log_level: debug



=== TEST 5: must_die with an unknown directive
--- config
    location = /t {
        miroir_no_such_directive on;
    }
--- must_die
--- error_log
unknown directive "miroir_no_such_directive"
--- no_error_log
[alert]



=== TEST 6: $TEST_NGINX_* substitution in config (requests use eval)
--- main_config
    env TEST_NGINX_MIROIR_GREETING=$TEST_NGINX_MIROIR_GREETING;
--- http_config
    map $uri $miroir_greeting {
        default "$TEST_NGINX_MIROIR_GREETING";
    }
--- config
    location = /t {
        return 200 "port=$TEST_NGINX_SERVER_PORT greeting=$miroir_greeting arg=$arg_a";
    }
--- request eval
"GET /t?a=$ENV{TEST_NGINX_MIROIR_GREETING}"
--- response_body eval
"port=$ENV{TEST_NGINX_SERVER_PORT} greeting=bonjour arg=bonjour"
--- no_error_log
[error]



=== TEST 7: pipelined requests on one connection
--- config
    location /p {
        return 200 "uri=$uri\n";
    }
--- pipelined_requests eval
["GET /p1", "GET /p2"]
--- response_body eval
["uri=/p1\n", "uri=/p2\n"]
--- no_error_log
[error]



=== TEST 8: request eval returning an array of requests
--- config
    location /a {
        return 200 "a";
    }
    location /b {
        return 404;
    }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 404]
--- response_body_like eval
["^a\$", "Not Found"]



=== TEST 9: POST body, more_headers and user_files
--- config
    location = /echo {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/got;
    }
    location = /got {
        return 200 "len=$http_content_length x=$http_x_test";
    }
--- user_files
>>> static/hi.txt
hi there
--- request
POST /echo
hello world
--- more_headers
X-Test: abc
--- response_body chomp
len=11 x=abc
--- no_error_log
[error]



=== TEST 10: user_files are served from the html dir
--- user_files
>>> static/hi.txt
hi there
--- request
GET /static/hi.txt
--- response_body
hi there
--- no_error_log
[error]



=== TEST 11: chunked response (sub_filter drops Content-Length)
--- config
    location = /src {
        return 200 "aaa";
    }
    location = /c {
        sub_filter 'a' 'b';
        sub_filter_once off;
        sub_filter_types *;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/src;
    }
--- request
GET /c
--- response_headers
Transfer-Encoding: chunked
--- response_body chop
bbb
--- no_error_log
[error]
