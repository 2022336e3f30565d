// cdc_lease_holder STORE_URL SESSION HOLDER: takes the session's lease in a checkpoint store and
// keeps it until killed (the lease tests SIGKILL it and take the lease again). Prints "acquired"
// once it holds the lease, or "refused: <error>" and exits 3.
#include <cdc/cdc.h>

#include <cstdio>
#include <exception>

#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s STORE_URL SESSION HOLDER\n", argv[0]);
    return 2;
  }
  try {
    auto store = cdc::ConnectorRegistry::instance().open_checkpoint_store(argv[1]);
    auto lease = store->acquire_lease(argv[2], argv[3]);
    std::printf("acquired\n");
    std::fflush(stdout);
    for (;;) ::pause();
  } catch (const std::exception& e) {
    std::printf("refused: %s\n", e.what());
    return 3;
  }
}
