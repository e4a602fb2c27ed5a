#include "tvd/master/store_gate.h"

namespace tvd::master {

Status StoreGate::Check() const {
  MutexLock lock(mu_);
  return open_ ? Status::Ok() : Unavailable(why_);
}

bool StoreGate::open() const {
  MutexLock lock(mu_);
  return open_;
}

void StoreGate::Close(std::string why) {
  MutexLock lock(mu_);
  open_ = false;
  why_ = std::move(why);
}

void StoreGate::Open() {
  MutexLock lock(mu_);
  open_ = true;
  why_.clear();
}

}  // namespace tvd::master
