/** The etcd client every Theseus part and guest uses, configured in one place. */
import { Etcd3, type IOptions } from 'etcd3';

/** Who a client is to etcd: a user and password (etcd's RBAC) and/or TLS with a CA and a client certificate. */
export interface EtcdAccess {
  username?: string | undefined;
  password?: string | undefined;
  /** PEM CA bundle that signs etcd's server certificate. */
  ca?: Buffer | undefined;
  /** PEM client certificate and key. */
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  /**
   * The name etcd's server certificate is checked against and sent as the TLS server name, instead
   * of each endpoint's host. Endpoints given as IP addresses need one: a TLS server name must be a
   * host name (RFC 6066), and Node refuses to send an IP address as one without a warning.
   */
  serverName?: string | undefined;
}

export interface EtcdClientOptions {
  endpoints: readonly string[];
  /** Per-call deadline. */
  timeoutMs?: number;
  /**
   * Retry, circuit-breaker and watch-reconnect policies (cockatiel). Each caller passes its own:
   * services' createEtcdClient the etcd retry policy (services/src/retry.ts), guestutils its
   * guestutils/src/retry.ts. etcd3's defaults open a host's circuit for 5 s after 3 failures and
   * back watch reconnects off up to 30 s.
   */
  faultHandling?: IOptions['faultHandling'];
  /** gRPC channel options, e.g. keepalive and reconnect backoff. */
  grpcOptions?: IOptions['grpcOptions'];
  access?: EtcdAccess | undefined;
}

export function createEtcdClient(options: EtcdClientOptions): Etcd3 {
  const config: IOptions = {
    hosts: [...options.endpoints],
    dialTimeout: options.timeoutMs ?? 5_000,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + (options.timeoutMs ?? 5_000) }),
    ...(options.faultHandling ? { faultHandling: options.faultHandling } : {}),
    ...(options.grpcOptions ? { grpcOptions: options.grpcOptions } : {}),
  };
  const access = options.access;
  if (access?.username && access.password !== undefined)
    config.auth = { username: access.username, password: access.password };
  if (access?.ca || access?.cert) {
    // Without a CA of its own, gRPC checks the server against the system's roots.
    config.credentials = {
      rootCertificate: access.ca as Buffer,
      ...(access.cert && access.key ? { certChain: access.cert, privateKey: access.key } : {}),
    };
    if (access.serverName)
      config.grpcOptions = { ...config.grpcOptions, 'grpc.ssl_target_name_override': access.serverName };
  }
  return new Etcd3(config);
}
