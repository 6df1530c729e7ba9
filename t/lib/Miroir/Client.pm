package Miroir::Client;

# Talking to the Miroir under test the way a Meilisearch client does (not
# part of Test::Nginx; found through -I t/lib):
#
#   use Miroir::Client qw(miroir wait_task health);
#   my $res = miroir('POST', '/indexes/q/documents', $json_text);
#   wait_task($res) or fail(...);      # 1 once the task succeeded
#   like(health(), qr/"status":"green"/);
#
# miroir() sends the master key "s3cret" and a JSON content type to the
# nginx started by Test::Nginx (TEST_NGINX_SERVER_PORT) and returns the
# HTTP::Tiny response.

use strict;
use warnings;
use Exporter 'import';
use HTTP::Tiny;
use JSON::PP ();

our @EXPORT_OK = qw(miroir wait_task health);

my $json = JSON::PP->new->canonical;

sub miroir {
    my ($method, $path, $body) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT}
               || Test::Nginx::Util::server_port();
    return HTTP::Tiny->new(timeout => 10)->request($method,
        "http://127.0.0.1:$port$path", {
            headers => { Authorization => 'Bearer s3cret',
                         'Content-Type' => 'application/json' },
            defined $body ? (content => $body) : () });
}

# 1 once the Miroir task of a 202 answer succeeded, 0 if it failed, was
# canceled or is not finished after 10 s
sub wait_task {
    my ($res) = @_;
    my $uid = eval { $json->decode($res->{content})->{taskUid} };
    return 0 unless defined $uid;
    for (1 .. 100) {
        my $c = miroir('GET', "/tasks/$uid")->{content} // '';
        return 1 if $c =~ /"status":"succeeded"/;
        return 0 if $c =~ /"status":"(failed|canceled)"/;
        select undef, undef, undef, 0.1;
    }
    return 0;
}

sub health {
    return miroir('GET', '/_miroir/health')->{content} // '';
}

1;
