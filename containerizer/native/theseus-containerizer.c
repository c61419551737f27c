/*
 * theseus-containerizer, as a slave runs it (--containerizer_path): a native client of the resident
 * containerizer service (containerizer/src/service/). A slave starts the program for every call,
 * `usage` about once a second per container; this client starts in about a millisecond, where a
 * Node process needs ~20 ms before any of the program runs.
 *
 * For a protocol call (launch, update, usage, wait, destroy, containers, recover) it connects to
 * the service's socket, starting the service when none answers, sends its arguments, environment,
 * working directory and the record read from stdin (exactly the framed record, never waiting for
 * EOF), and relays the answer: stdout bytes, stderr bytes, exit status. Every other command, and
 * every case where the service cannot be used, runs the Node program itself (exec), which behaves
 * the same, only slower to start.
 *
 * Built by containerizer/scripts/bundle.mjs with THESEUS_BUILD_ID (a digest of the program it
 * belongs to, so a client never talks to a service of another build) and THESEUS_NODE (the Node
 * that built the bundle). The program is found relative to this binary:
 * <repo>/containerizer/bundle/theseus-containerizer -> <repo>/bin/theseus-containerizer.js.
 *
 * Environment:
 *   THESEUS_CONTAINERIZER_SERVICE=0        never use the service (run the Node program)
 *   THESEUS_CONTAINERIZER_RUNTIME_DIR      the service's socket, lock and log (default
 *                                          /tmp/theseus-containerizer-<uid>, must be 0700 and ours)
 *   THESEUS_CONTAINERIZER_NODE             the Node to run (default: the one that built it)
 *   THESEUS_CONTAINERIZER_IDLE_SECONDS     read by a service this client starts
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef THESEUS_BUILD_ID
#error "THESEUS_BUILD_ID must be defined"
#endif
#ifndef THESEUS_NODE
#define THESEUS_NODE "node"
#endif

#define MAX_RECORD_BYTES (64u * 1024u * 1024u)
#define NO_STDIN 0xffffffffu
#define SERVICE_START_TIMEOUT_MS 10000

extern char **environ;

static const char *command = "";

/* A growable byte buffer for the request. */
struct buffer {
  unsigned char *data;
  size_t length, capacity;
};

static void die(const char *message) {
  fprintf(stderr, "theseus-containerizer %s: %s\n", command, message);
  exit(1);
}

static void append(struct buffer *b, const void *bytes, size_t n) {
  if (b->length + n > b->capacity) {
    size_t capacity = b->capacity ? b->capacity : 4096;
    while (capacity < b->length + n) capacity *= 2;
    unsigned char *data = realloc(b->data, capacity);
    if (!data) die("out of memory");
    b->data = data;
    b->capacity = capacity;
  }
  memcpy(b->data + b->length, bytes, n);
  b->length += n;
}

static void append_u32(struct buffer *b, uint32_t n) {
  unsigned char le[4] = {n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >> 24) & 0xff};
  append(b, le, 4);
}

static void append_text(struct buffer *b, const char *s) {
  size_t n = strlen(s);
  append_u32(b, (uint32_t)n);
  append(b, s, n);
}

static int wait_readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, -1);
}

/* Reads up to n bytes, fewer only at EOF. -1 on a read error. */
static ssize_t read_fully(int fd, unsigned char *out, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, out + got, n - got);
    if (r > 0) got += (size_t)r;
    else if (r == 0) break;
    else if (errno == EINTR) continue;
    else if (errno == EAGAIN) wait_readable(fd);
    else return -1;
  }
  return (ssize_t)got;
}

static int write_fully(int fd, const unsigned char *bytes, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, bytes + done, n - done);
    if (w > 0) done += (size_t)w;
    else if (w < 0 && errno == EINTR) continue;
    else if (w < 0 && errno == EAGAIN) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      poll(&p, 1, -1);
    } else return -1;
  }
  return 0;
}

/* What the program reads of stdin: the 4-byte length and that many bytes (fewer where stdin ends). */
static void read_stdin_record(struct buffer *out) {
  unsigned char header[4];
  ssize_t got = read_fully(0, header, 4);
  if (got < 0) die("cannot read the record from stdin");
  append(out, header, (size_t)got);
  if (got < 4) return;
  uint32_t size;
  memcpy(&size, header, 4); /* the slave writes the length in native byte order */
  if (size == 0 || size > MAX_RECORD_BYTES) return; /* the program refuses it, naming the length */
  size_t start = out->length;
  if (out->capacity < start + size) {
    unsigned char *data = realloc(out->data, start + size);
    if (!data) die("out of memory");
    out->data = data;
    out->capacity = start + size;
  }
  got = read_fully(0, out->data + start, size);
  if (got < 0) die("cannot read the record from stdin");
  out->length = start + (size_t)got;
}

static int reads_record(const char *cmd) {
  return !strcmp(cmd, "launch") || !strcmp(cmd, "update") || !strcmp(cmd, "usage") || !strcmp(cmd, "wait") || !strcmp(cmd, "destroy");
}

static int is_protocol(const char *cmd) {
  return reads_record(cmd) || !strcmp(cmd, "containers") || !strcmp(cmd, "recover");
}

/* Calls that may be sent again when the service went away before answering. */
static int is_repeatable(const char *cmd) {
  return !strcmp(cmd, "usage") || !strcmp(cmd, "wait") || !strcmp(cmd, "containers");
}

static char self_dir[PATH_MAX - 64];
static char program[PATH_MAX];

static const char *node_path(void) {
  const char *node = getenv("THESEUS_CONTAINERIZER_NODE");
  if (node && *node) return node;
  if (access(THESEUS_NODE, X_OK) == 0) return THESEUS_NODE;
  return "node";
}

/* Node reads NODE_EXTRA_CA_CERTS at start (~30 ms for a system bundle); the program opens no TLS connection. */
static void drop_tls_settings(void) { unsetenv("NODE_EXTRA_CA_CERTS"); }

/* Runs the Node program itself with the same arguments (stdin untouched). */
static void run_program(int argc, char **argv) {
  char **args = calloc((size_t)argc + 2, sizeof(char *));
  if (!args) die("out of memory");
  args[0] = (char *)node_path();
  args[1] = program;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  drop_tls_settings();
  execvp(args[0], args);
  fprintf(stderr, "theseus-containerizer %s: cannot run %s: %s\n", command, args[0], strerror(errno));
  exit(127);
}

/* short enough that every path in it fits (a socket path holds at most 107 bytes anyway) */
static char runtime_dir[256];
static char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

/* The runtime directory, made if missing; refused unless it is a directory of ours that only we can use. */
static int private_runtime_dir(void) {
  const char *dir = getenv("THESEUS_CONTAINERIZER_RUNTIME_DIR");
  if (dir && strlen(dir) >= sizeof runtime_dir) return -1;
  if (dir && *dir) snprintf(runtime_dir, sizeof runtime_dir, "%s", dir);
  else snprintf(runtime_dir, sizeof runtime_dir, "/tmp/theseus-containerizer-%u", (unsigned)geteuid());
  if (mkdir(runtime_dir, 0700) != 0 && errno != EEXIST) return -1;
  struct stat st;
  if (lstat(runtime_dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
    fprintf(stderr, "theseus-containerizer %s: %s is not a private directory of this user; running without the service\n", command, runtime_dir);
    return -1;
  }
  int n = snprintf(socket_path, sizeof socket_path, "%s/%s.sock", runtime_dir, THESEUS_BUILD_ID);
  return n > 0 && (size_t)n < sizeof socket_path ? 0 : -1;
}

static int try_connect(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
  close(fd);
  return -1;
}

/*
 * Starts `serve` detached: its own session, cwd /, output to <runtime>/<build>.log, not our child.
 * Returns its pid, or -1 when it could not be started (then there is nothing to wait for).
 */
static pid_t start_service(void) {
  unlink(socket_path);
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(report[0]);
    close(report[1]);
    return -1;
  }
  if (pid == 0) {
    close(report[0]);
    setsid();
    if (fork() != 0) _exit(0);
    pid_t self = getpid();
    char log_path[PATH_MAX];
    snprintf(log_path, sizeof log_path, "%s/%s.log", runtime_dir, THESEUS_BUILD_ID);
    int in = open("/dev/null", O_RDONLY);
    int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (chdir("/") == 0 && in >= 0 && log >= 0 && write(report[1], &self, sizeof self) == sizeof self) {
      dup2(in, 0);
      dup2(log, 1);
      dup2(log, 2);
      for (int fd = 3; fd < 1024; fd++)
        if (fd != report[1]) close(fd);
      signal(SIGPIPE, SIG_DFL);
      drop_tls_settings();
      char *args[] = {(char *)node_path(), program, "serve", "--socket", socket_path, NULL};
      execvp(args[0], args); /* on success the report pipe closes with nothing more in it */
    }
    char failed = 'E';
    if (write(report[1], &failed, 1) < 0) _exit(127);
    _exit(127);
  }
  close(report[1]);
  waitpid(pid, NULL, 0);
  pid_t service = -1;
  char after;
  if (read_fully(report[0], (unsigned char *)&service, sizeof service) != sizeof service || read_fully(report[0], (unsigned char *)&after, 1) != 0) service = -1;
  close(report[0]);
  return service;
}

/* A connection to the service, starting it (once, under a lock) when none answers; -1 if it cannot be had. */
static int connect_service(void) {
  int fd = try_connect();
  if (fd >= 0) return fd;
  char lock_path[PATH_MAX];
  snprintf(lock_path, sizeof lock_path, "%s/%s.lock", runtime_dir, THESEUS_BUILD_ID);
  int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) return -1;
  while (flock(lock, LOCK_EX) != 0 && errno == EINTR) {
  }
  fd = try_connect();
  if (fd < 0) {
    pid_t service = start_service();
    struct timespec pause = {0, 5 * 1000 * 1000};
    /* until it answers, ends (a service that cannot start leaves its reason in the log) or the time is up */
    for (int waited = 0; fd < 0 && service > 0 && waited < SERVICE_START_TIMEOUT_MS; waited += 5) {
      nanosleep(&pause, NULL);
      fd = try_connect();
      if (fd < 0 && kill(service, 0) != 0 && errno == ESRCH) break;
    }
  }
  close(lock);
  return fd;
}

static void build_request(struct buffer *req, int argc, char **argv, const struct buffer *input, int has_input) {
  append(req, "TCZ1", 4);
  append_u32(req, (uint32_t)(argc - 1));
  for (int i = 1; i < argc; i++) append_text(req, argv[i]);
  char cwd[PATH_MAX];
  append_text(req, getcwd(cwd, sizeof cwd) ? cwd : "/");
  uint32_t envc = 0;
  for (char **e = environ; *e; e++) envc++;
  append_u32(req, envc);
  for (char **e = environ; *e; e++) append_text(req, *e);
  if (!has_input) append_u32(req, NO_STDIN);
  else {
    append_u32(req, (uint32_t)input->length);
    append(req, input->data, input->length);
  }
}

#define CALL_AGAIN -2

/*
 * Sends the request and relays the answer. Returns the exit status; CALL_AGAIN when the service
 * ran nothing and asks for the call to be made again (it is retiring); -1 when it went away before
 * answering (*relayed says whether any stdout was already passed on).
 */
static int exchange(int fd, const struct buffer *req, int *relayed) {
  if (write_fully(fd, req->data, req->length) != 0) return -1;
  unsigned char header[5];
  unsigned char *payload = NULL;
  for (;;) {
    if (read_fully(fd, header, 5) != 5) break;
    uint32_t n = (uint32_t)header[1] | (uint32_t)header[2] << 8 | (uint32_t)header[3] << 16 | (uint32_t)header[4] << 24;
    if (n > MAX_RECORD_BYTES + 4) break;
    unsigned char *grown = realloc(payload, n ? n : 1);
    if (!grown) die("out of memory");
    payload = grown;
    if (read_fully(fd, payload, n) != (ssize_t)n) break;
    if (header[0] == 1) {
      *relayed = 1;
      if (write_fully(1, payload, n) != 0) die("cannot write the answer to stdout");
    } else if (header[0] == 2) {
      write_fully(2, payload, n);
    } else if (header[0] == 3 && n == 4) {
      int32_t status;
      uint32_t u = (uint32_t)payload[0] | (uint32_t)payload[1] << 8 | (uint32_t)payload[2] << 16 | (uint32_t)payload[3] << 24;
      memcpy(&status, &u, 4);
      free(payload);
      return status;
    } else if (header[0] == 4) {
      free(payload);
      return CALL_AGAIN;
    } else break;
  }
  free(payload);
  return -1;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) die("cannot find where this program is installed (/proc/self/exe)");
  self[n] = '\0';
  if ((size_t)n >= sizeof self_dir) die("installed under too long a path");
  snprintf(self_dir, sizeof self_dir, "%.*s", (int)(strrchr(self, '/') - self), self);
  snprintf(program, sizeof program, "%s/../../bin/theseus-containerizer.js", self_dir);

  int i = 1;
  while (i < argc) {
    if (!strcmp(argv[i], "--config")) i += 2;
    else if (!strncmp(argv[i], "--config=", 9)) i++;
    else break;
  }
  command = i < argc ? argv[i] : "";
  const char *use = getenv("THESEUS_CONTAINERIZER_SERVICE");
  if (i >= argc || !is_protocol(command) || (use && !strcmp(use, "0")) || private_runtime_dir() != 0) run_program(argc, argv);

  int fd = connect_service();
  if (fd < 0) run_program(argc, argv); /* stdin is still unread */
  struct buffer input = {0}, req = {0};
  int has_input = reads_record(command);
  if (has_input) read_stdin_record(&input);
  build_request(&req, argc, argv, &input, has_input);

  for (int attempt = 0, again = 0;; attempt++) {
    int relayed = 0;
    int status = exchange(fd, &req, &relayed);
    close(fd);
    if (status >= 0) return status & 0xff;
    if (status == CALL_AGAIN && again++ < 3) {
      if ((fd = connect_service()) < 0) break;
      attempt--;
      continue;
    }
    if (relayed || attempt > 0 || !is_repeatable(command) || (fd = connect_service()) < 0) break;
  }
  die("the containerizer service ended before answering (its log is in the runtime directory)");
  return 1;
}
