package Test::Nginx::Socket;

# Miroir's Test::Nginx-compatible runner: the raw-socket HTTP client and
# the per-block checks.  See t/lib/README.md for what is supported.
#
# Spiffy (under Test::Base -Base) inserts "my $self = shift;" into every
# "sub name {"; every named sub below therefore has a prototype, which
# Spiffy leaves alone.

use Test::Base -Base;

use IO::Select ();
use IO::Socket::INET ();
use List::Util ();
use Time::HiRes ();

use Test::Nginx::Util;

our $VERSION = '0.01';

our @EXPORT = (@Test::Nginx::Util::EXPORT, qw(run_tests run_test));

sub section ($$) { Test::Nginx::Util::section($_[0], $_[1]) }

sub run_tests () {
    my @blocks = Test::Base::blocks();
    @blocks = List::Util::shuffle(@blocks) unless $Test::Nginx::Util::NoShuffle;
    for my $block (@blocks) {
        for my $pre (@Test::Nginx::Util::BlockPreprocessors) {
            my $b = $pre->($block);
            $block = $b if ref $b && ref $b ne 'ARRAY'
                && eval { $b->can('name') };
        }
        run_test($block);
    }
    # with TEST_NGINX_USE_HUP the server stays up across blocks, not files;
    # the cleanup handlers run here (and from END if the test dies first)
    Test::Nginx::Util::cleanup();
}

sub run_test ($) {
    my ($block) = @_;
    my $name = $block->name;
    my $must_die = defined section($block, 'must_die');

    for my $rep (0 .. $Test::Nginx::Util::RepeatEach - 1) {
        if ($must_die || $rep == 0 || !Test::Nginx::Util::nginx_running()) {
            my $up = prepare_server($block, $rep);
            if ($must_die) {
                if ($up) {
                    Test::More::fail("$name - nginx should have failed"
                                     . " to start (must_die)");
                    Test::Nginx::Util::stop_nginx();
                }
                check_error_log($block, $rep, 0);
                next;
            }
            if (!$up) {
                my $log = join '', @{ Test::Nginx::Util::error_log_data() };
                $Test::Nginx::Util::ErrLogFilePos = 0;
                Test::More::fail("$name - nginx failed to start");
                Test::More::diag($log);
                return;
            }
        } elsif ($rep > 0) {
            Test::Nginx::Util::write_user_files($block);
        }
        run_requests($block, $rep);
    }

    my $sd = section($block, 'shutdown_error_log');
    my $nsd = section($block, 'no_shutdown_error_log');
    if (!$Test::Nginx::Util::UseHup || defined $sd || defined $nsd) {
        Test::Nginx::Util::stop_nginx();
    }
    check_shutdown_error_log($block, $sd, $nsd)
        if !$must_die && (defined $sd || defined $nsd);
}

# Lines logged while nginx shut down (the block's server is stopped first).
sub check_shutdown_error_log ($$$) {
    my ($block, $sd, $nsd) = @_;
    my $name = $block->name;
    my $lines = Test::Nginx::Util::error_log_data();
    for my $pat (@{ to_patterns($sd) }) {
        my $hit = grep { ref $pat ? $_ =~ $pat : index($_, $pat) >= 0 } @$lines;
        Test::More::ok($hit, "$name - shutdown error log: pattern \"$pat\""
                       . ($hit ? " matches a line" : " should match a line"));
    }
    for my $pat (@{ to_patterns($nsd) }) {
        my ($line) = grep { ref $pat ? $_ =~ $pat : index($_, $pat) >= 0 }
                     @$lines;
        chomp $line if defined $line;
        Test::More::ok(!defined $line, "$name - shutdown error log: pattern"
            . " \"$pat\" " . (defined $line
                ? "should not match any line but matches \"$line\""
                : "does not match a line"));
    }
}

# Fresh servroot and nginx (or a HUP reload); 1 when nginx is up.
sub prepare_server ($$) {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $must_die = defined section($block, 'must_die');

    if ($Test::Nginx::Util::UseHup && !$must_die
        && Test::Nginx::Util::nginx_running())
    {
        Test::Nginx::Util::setup_server_root();
        Test::Nginx::Util::write_config_file($block);
        Test::Nginx::Util::write_user_files($block);
        $Test::Nginx::Util::ErrLogFilePos = -s $Test::Nginx::Util::ErrLogFile || 0;
        return 1 if Test::Nginx::Util::reload_nginx($name);
        # the new config was rejected: let the block see it from scratch
        Test::Nginx::Util::stop_nginx();
    }

    Test::Nginx::Util::stop_nginx();
    Test::Nginx::Util::setup_server_root();
    Test::Nginx::Util::write_config_file($block);
    Test::Nginx::Util::write_user_files($block);
    return Test::Nginx::Util::start_nginx($name);
}

# ---------------------------------------------------------------------
# Requests

sub parse_more_headers ($) {
    my ($in) = @_;
    my $out = '';
    my $chunked = 0;
    for my $line (split /\n+/, $in // '') {
        next if $line =~ /^\s*#/ || $line !~ /\S/;
        my ($k, $v) = split /:\s*/, $line, 2;
        $v //= '';
        $v =~ s/\s+$//;
        $chunked = 1 if lc $k eq 'transfer-encoding' && lc $v eq 'chunked';
        $out .= "$k: $v\r\n";
    }
    return ($out, $chunked);
}

# "GET /t" or "POST /x\nbody" -> raw bytes
sub build_request ($$$$) {
    my ($name, $req, $more, $conn) = @_;
    $req =~ s/\A(?:\s*#[^\n]*\n|\s+)+//;
    my ($first, $body) = split /\n/, $req, 2;
    $first =~ s/\r$//;
    my ($meth, $uri, $ver) = split ' ', $first;
    Test::Nginx::Util::bail_out("$name - invalid request line \"$first\"")
        unless defined $meth;
    $uri //= '/';
    $ver //= 'HTTP/1.1';
    $body //= '';

    my ($hdr, $chunked) = parse_more_headers($more);
    my $head = "$meth $uri $ver\r\n";
    $head .= "Host: $Test::Nginx::Util::ServerName\r\n"
        unless $hdr =~ /^Host:/mi;
    $head .= "Connection: $conn\r\n" unless $hdr =~ /^Connection:/mi;
    $head .= $hdr;
    if (!$chunked && $body ne '') {
        $body =~ s/^\s+|\s+$//gs;
        $head .= "Content-Length: " . length($body) . "\r\n"
            unless $hdr =~ /^Content-Length:/mi;
    }
    return { raw => "$head\r\n$body", method => uc $meth };
}

# Like the real Test::Nginx, $TEST_NGINX_* is expanded in the nginx config
# sections only; elsewhere it is sent as is, with a warning, so that a .t
# file behaves the same under both runners.  Use "--- request eval" and
# $ENV{TEST_NGINX_...} instead.
sub no_env ($$$) {
    my ($text, $name, $sec) = @_;
    if (defined $text && $text =~ /\$(TEST_NGINX_[_A-Z0-9]+)/) {
        Test::More::diag("$name - \$$1 is not expanded in --- $sec"
                         . " (only in config sections); use \"--- $sec eval\""
                         . " with \$ENV{$1}");
    }
    return $text;
}

# A list of connections; each connection is a list of requests sent on it.
sub get_req_list ($) {
    my ($block) = @_;
    my $name = $block->name;
    my $more = section($block, 'more_headers');

    my $hdr_for = sub {
        my $i = shift;
        return '' unless defined $more;
        return $more->[$i] // '' if ref $more eq 'ARRAY';
        return no_env($more, $name, 'more_headers');
    };

    my $raw = section($block, 'raw_request');
    if (defined $raw) {
        $raw = join '', @$raw if ref $raw eq 'ARRAY';
        $raw = no_env($raw, $name, 'raw_request');
        my ($m) = $raw =~ /^\s*(\S+)/;
        return [ [ { raw => $raw, method => uc($m // 'GET') } ] ];
    }

    my $pipe = section($block, 'pipelined_requests');
    if (defined $pipe) {
        Test::Nginx::Util::bail_out("$name - --- pipelined_requests must"
                                    . " be an array (use eval)")
            unless ref $pipe eq 'ARRAY';
        my @conn;
        for my $i (0 .. $#$pipe) {
            push @conn, build_request($name,
                no_env($pipe->[$i], $name, 'pipelined_requests'),
                $hdr_for->($i), $i == $#$pipe ? 'close' : 'keep-alive');
        }
        return [ \@conn ];
    }

    my $req = section($block, 'request');
    return [] unless defined $req;
    if (ref $req eq 'ARRAY') {
        my @list;
        for my $i (0 .. $#$req) {
            my $r = $req->[$i];
            $r = join '', @$r if ref $r eq 'ARRAY';
            push @list, [ build_request($name,
                no_env($r, $name, 'request'),
                $hdr_for->($i), 'close') ];
        }
        return \@list;
    }
    return [ [ build_request($name, no_env($req, $name, 'request'),
                             $hdr_for->(0), 'close') ] ];
}

# Send bytes, read until EOF or timeout; returns (data, error).
sub send_raw ($$) {
    my ($raw, $timeout) = @_;
    my $sock = IO::Socket::INET->new(
        PeerAddr => $Test::Nginx::Util::ServerAddr,
        PeerPort => $Test::Nginx::Util::ServerPort,
        Proto => 'tcp', Timeout => $timeout);
    return ('', "cannot connect to port $Test::Nginx::Util::ServerPort: $!")
        unless $sock;
    binmode $sock;
    my $deadline = Time::HiRes::time() + $timeout;
    my $off = 0;
    my $sel = IO::Select->new($sock);
    while ($off < length $raw) {
        my $left = $deadline - Time::HiRes::time();
        return ('', 'client socket timed out while sending')
            if $left <= 0 || !$sel->can_write($left);
        my $n = syswrite($sock, $raw, length($raw) - $off, $off);
        last unless defined $n;
        $off += $n;
    }
    my $data = '';
    while (1) {
        my $left = $deadline - Time::HiRes::time();
        if ($left <= 0 || !$sel->can_read($left)) {
            close $sock;
            return ($data, 'client socket timed out');
        }
        my $n = sysread($sock, my $buf, 65536);
        last if !$n;
        $data .= $buf;
    }
    close $sock;
    return ($data, undef);
}

# Cut one response off the front of $$data.
sub parse_response ($$) {
    my ($data, $method) = @_;
    my $res = { code => undef, headers => {}, body => '', raw_headers => '' };
    return $res unless $$data =~ s/\A(HTTP\/\d\.\d)\s+(\d+)[^\r\n]*\r?\n//;
    $res->{code} = $2;
    my $pos = index $$data, "\r\n\r\n";
    my $head;
    if ($pos < 0) { $head = $$data; $$data = ''; }
    else { $head = substr($$data, 0, $pos + 2); substr($$data, 0, $pos + 4) = ''; }
    $res->{raw_headers} = $head;
    for my $line (split /\r\n/, $head) {
        my ($k, $v) = split /:\s*/, $line, 2;
        next unless defined $v;
        push @{ $res->{headers}{lc $k} }, $v;
    }
    my $te = join ',', @{ $res->{headers}{'transfer-encoding'} || [] };
    my $cl = $res->{headers}{'content-length'};
    if ($method eq 'HEAD' || $res->{code} =~ /^(?:1\d\d|204|304)$/) {
        # no body
    } elsif ($te =~ /chunked/i) {
        my $body = '';
        while ($$data =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            if ($len == 0) {
                $$data =~ s/\A(?:[^\r\n]+\r\n)*\r\n//;
                last;
            }
            $body .= substr($$data, 0, $len, '');
            $$data =~ s/\A\r\n//;
        }
        $res->{body} = $body;
    } elsif ($cl) {
        $res->{body} = substr($$data, 0, $cl->[0], '');
    } else {
        $res->{body} = $$data;
        $$data = '';
    }
    return $res;
}

sub header_value ($$) {
    my ($res, $key) = @_;
    my $v = $res->{headers}{lc $key};
    return undef unless $v;
    return join ', ', @$v;
}

sub run_requests ($$) {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $timeout = Test::Nginx::Util::parse_time(section($block, 'timeout'))
                  // $Test::Nginx::Util::Timeout;

    my $conns = get_req_list($block);
    my $total = 0;
    $total += @$_ for @$conns;
    my $need_array = $total > 1;
    my $req_idx = 0;

    if (!$total) {
        # no request: only the error log is checked
        my $wait = Test::Nginx::Util::parse_time(section($block, 'wait'));
        Time::HiRes::sleep($wait) if $wait;
        check_error_log($block, $rep, 0);
        return;
    }

    for my $conn (@$conns) {
        my $raw = join '', map { $_->{raw} } @$conn;
        my ($data, $err) = send_raw($raw, $timeout);
        if ($err) {
            Test::More::diag("ERROR: $err - $name");
        }
        for my $r (@$conn) {
            my $res = parse_response(\$data, $r->{method});
            if (!defined section($block, 'ignore_response')) {
                check_response($block, $res, $rep, $req_idx, $need_array);
            }
            if ($req_idx < $total - 1) {
                my $wait = Test::Nginx::Util::parse_time(section($block, 'wait'));
                Time::HiRes::sleep($wait) if $wait;
                check_error_log($block, $rep, $req_idx);
            }
            $req_idx++;
        }
    }

    my $wait = Test::Nginx::Util::parse_time(section($block, 'wait'));
    Time::HiRes::sleep($wait) if $wait;
    check_error_log($block, $rep, $req_idx - 1);
}

# ---------------------------------------------------------------------
# Checks

sub indexed ($$$$) {
    my ($name, $value, $idx, $need_array) = @_;
    return undef unless defined $value;
    if (ref $value eq 'ARRAY') {
        return $value->[$idx] if $need_array || $idx == 0;
        return undef;
    }
    if ($need_array && !ref $value) {
        # one expectation for every request
        return $value;
    }
    return $value;
}

sub check_response ($$$$$) {
    my ($block, $res, $rep, $idx, $need_array) = @_;
    my $name = $block->name;
    my $suffix = "(repeated req $rep, req $idx)";

    # status
    {
        my $exp = indexed($name, section($block, 'error_code'), $idx,
                          $need_array);
        $exp = 200 unless defined $exp;
        $exp =~ s/^\s+|\s+$//g;
        Test::More::is($res->{code} // '', $exp, "$name - status code ok");
    }

    # headers
    my $hdrs = indexed($name, section($block, 'response_headers'), $idx,
                       $need_array);
    if (defined $hdrs) {
        for my $line (split /\n+/, $hdrs) {
            next unless $line =~ /\S/;
            $line =~ s/^\s+|\s+$//g;
            if ($line =~ /^!\s*(\S+)/) {
                my $k = $1;
                Test::More::ok(!defined header_value($res, $k),
                               "$name - header $k not present");
                next;
            }
            my ($k, $v) = split /:\s*/, $line, 2;
            my $got = header_value($res, $k);
            if (!defined $v || $v eq '') {
                Test::More::ok(!defined $got || $got eq '',
                               "$name - header $k ok");
            } else {
                Test::More::is($got, $v, "$name - header $k ok");
            }
        }
    }
    my $hlike = indexed($name, section($block, 'response_headers_like'),
                        $idx, $need_array);
    if (defined $hlike) {
        for my $line (split /\n+/, $hlike) {
            next unless $line =~ /\S/;
            $line =~ s/^\s+|\s+$//g;
            my ($k, $v) = split /:\s*/, $line, 2;
            $v //= '';
            Test::More::like(header_value($res, $k) // '', qr/^(?:$v)$/s,
                             "$name - header $k like ok");
        }
    }

    # body
    my $body = $res->{body};
    my $exp = indexed($name, section($block, 'response_body'), $idx,
                      $need_array);
    if (defined $exp) {
        if (ref $exp eq 'Regexp') {
            Test::More::like($body, $exp,
                "$name - response_body - response is expected $suffix");
        } else {
            Test::More::is($body, $exp,
                "$name - response_body - response is expected $suffix");
        }
    }
    my $like = indexed($name, section($block, 'response_body_like'), $idx,
                       $need_array);
    if (defined $like) {
        my $re = ref $like eq 'Regexp' ? $like : do { chomp $like; qr/$like/s };
        Test::More::like($body, $re,
            "$name - response_body_like - response is expected $suffix");
    }
    my $unlike = indexed($name, section($block, 'response_body_unlike'),
                         $idx, $need_array);
    if (defined $unlike) {
        my $re = ref $unlike eq 'Regexp' ? $unlike
               : do { chomp $unlike; qr/$unlike/s };
        Test::More::unlike($body, $re,
            "$name - response_body_unlike - response is expected $suffix");
    }
}

sub to_patterns ($) {
    my ($v) = @_;
    return [] unless defined $v;
    return [$v] if ref $v eq 'Regexp';
    return [ grep { defined } @$v ] if ref $v eq 'ARRAY';
    chomp $v;
    return [ grep { length } split /\n+/, $v ];
}

sub check_error_log ($$$) {
    my ($block, $rep, $idx) = @_;
    my $name = $block->name;
    my $want = section($block, 'error_log');
    my $nowant = section($block, 'no_error_log');
    my $grep = section($block, 'grep_error_log');
    return unless defined $want || defined $nowant || defined $grep;

    my $lines = Test::Nginx::Util::error_log_data();

    if (defined $want) {
        my @pats = @{ to_patterns($want) };
        for my $pat (@pats) {
            my $hit = grep { ref $pat ? $_ =~ $pat : index($_, $pat) >= 0 }
                      @$lines;
            Test::More::ok($hit, $hit
                ? "$name - pattern \"$pat\" matches a line in error.log"
                  . " (req $rep)"
                : "$name - pattern \"$pat\" should match a line in"
                  . " error.log (req $rep)");
        }
    }
    if (defined $nowant) {
        for my $pat (@{ to_patterns($nowant) }) {
            my ($line) = grep { ref $pat ? $_ =~ $pat : index($_, $pat) >= 0 }
                         @$lines;
            if (defined $line) {
                chomp $line;
                Test::More::fail("$name - pattern \"$pat\" should not match"
                    . " any line in error.log but matches line \"$line\""
                    . " (req $rep)");
            } else {
                Test::More::pass("$name - pattern \"$pat\" does not match a"
                    . " line in error.log (req $rep)");
            }
        }
    }
    if (defined $grep) {
        my $re = ref $grep eq 'Regexp' ? $grep : do { chomp $grep; qr/$grep/ };
        my $got = '';
        for my $l (@$lines) {
            while ($l =~ /$re/g) { $got .= "$&\n"; }
        }
        my $exp = section($block, 'grep_error_log_out');
        $exp = $exp->[$rep] // $exp->[-1] if ref $exp eq 'ARRAY';
        if (defined $exp) {
            if (ref $exp eq 'Regexp') {
                Test::More::like($got, $exp, "$name - grep_error_log_out"
                                 . " (req $rep)");
            } else {
                Test::More::is($got, $exp, "$name - grep_error_log_out"
                               . " (req $rep)");
            }
        }
    }
}

1;
