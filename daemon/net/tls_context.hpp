// Mutual TLS for peer connections (`--tls-cert --tls-key --tls-ca`): one OpenSSL context,
// through Boost.Asio SSL, used for both directions. Both sides present a certificate and both
// require the other's, signed by the configured CA; a peer without one is refused during the
// TLS handshake, before any wmd byte is exchanged. TLS 1.2 at least; no session tickets.
//
// Thread-safety: make_tls_context is reentrant; the context is shared (read-only after
// creation) by the connections of the network thread.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "engine/result.hpp"

namespace wmd::net {

struct TlsFiles {
  std::string cert_file;  // PEM certificate (chain) of this node
  std::string key_file;   // PEM private key of that certificate
  std::string ca_file;    // PEM CA certificate(s) that sign every node's certificate
  bool configured() const { return !cert_file.empty(); }
};

// Loads the files and checks that the key matches the certificate. Errors: invalid_config
// (the detail says which file and what OpenSSL reported).
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const TlsFiles& files);

// A server-only context for WebSocket clients (wss://): the node's certificate and key, TLS 1.2
// at least, and no client certificate asked for (browsers have none; the WebSocket token
// authenticates them). files.ca_file is not used. Errors: as make_tls_context.
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_server_context(const TlsFiles& files);

// "CN=node1" of the peer's certificate on a connection after its handshake ("" when none).
std::string peer_certificate_subject(SSL* ssl);
// The names a peer id may take on this connection: the subject's common name(s) and the DNS
// names of the subjectAltName extension of the peer's certificate (empty when none).
std::vector<std::string> peer_certificate_names(SSL* ssl);

}  // namespace wmd::net
