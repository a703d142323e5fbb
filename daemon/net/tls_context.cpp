#include "daemon/net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>

namespace wmd::net {
namespace {

namespace ssl = boost::asio::ssl;

std::string describe(const boost::system::error_code& ec) {
  std::string text = ec.message();
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    std::array<char, 256> buffer{};
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), buffer.data(), buffer.size());
    text = buffer.data();
  }
  return text;
}

// The part both contexts share: protocol versions, certificate and key.
Result<std::shared_ptr<ssl::context>> load_certificate(const TlsFiles& files) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls);
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                       ec);
  const auto failed = [&](const char* what, const std::string& file) {
    return Error(errc::invalid_config, std::string(what) + " " + file + ": " + describe(ec));
  };
  if (ec) return failed("TLS options", "");
  context->use_certificate_chain_file(files.cert_file, ec);
  if (ec) return failed("cannot load --tls-cert", files.cert_file);
  context->use_private_key_file(files.key_file, ssl::context::pem, ec);
  if (ec) return failed("cannot load --tls-key", files.key_file);
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return Error(errc::invalid_config,
                 "--tls-key " + files.key_file + " does not match --tls-cert " + files.cert_file);
  }
  SSL_CTX_set_options(context->native_handle(), SSL_OP_NO_TICKET);
  return context;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_tls_context(const TlsFiles& files) {
  auto loaded = load_certificate(files);
  if (!loaded.ok()) return loaded;
  auto context = std::move(loaded).value();
  boost::system::error_code ec;
  context->load_verify_file(files.ca_file, ec);
  if (ec) {
    return Error(errc::invalid_config,
                 "cannot load --tls-ca " + files.ca_file + ": " + describe(ec));
  }
  // Both directions: a server asks for the client's certificate and refuses the handshake
  // without one; a client refuses a server whose certificate the CA did not sign.
  context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  if (ec) {
    return Error(errc::invalid_config, "TLS verify mode: " + describe(ec));
  }
  return context;
}

Result<std::shared_ptr<ssl::context>> make_tls_server_context(const TlsFiles& files) {
  auto loaded = load_certificate(files);
  if (!loaded.ok()) return loaded;
  auto context = std::move(loaded).value();
  boost::system::error_code ec;
  context->set_verify_mode(ssl::verify_none, ec);
  if (ec) {
    return Error(errc::invalid_config, "TLS verify mode: " + describe(ec));
  }
  return context;
}

std::vector<std::string> peer_certificate_names(SSL* ssl_handle) {
  std::vector<std::string> names;
  if (ssl_handle == nullptr) return names;
  X509* cert = SSL_get1_peer_certificate(ssl_handle);
  if (cert == nullptr) return names;
  const auto add = [&names](const ASN1_STRING* text) {
    if (text == nullptr) return;
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                       static_cast<std::size_t>(ASN1_STRING_length(text)));
  };
  X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    add(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
  }
  auto* alt =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (alt != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(alt); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(alt, i);
      if (name->type == GEN_DNS) add(name->d.dNSName);
    }
    GENERAL_NAMES_free(alt);
  }
  X509_free(cert);
  return names;
}

std::string peer_certificate_subject(SSL* ssl_handle) {
  if (ssl_handle == nullptr) return {};
  X509* cert = SSL_get1_peer_certificate(ssl_handle);
  if (cert == nullptr) return {};
  std::array<char, 256> buffer{};
  X509_NAME_oneline(X509_get_subject_name(cert), buffer.data(), static_cast<int>(buffer.size()));
  X509_free(cert);
  return buffer.data();
}

}  // namespace wmd::net
