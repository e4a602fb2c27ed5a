// The project's mutex, with Clang's thread-safety annotations, so the
// compiler checks which lock guards what (-Wthread-safety in the clang
// flavours; GCC ignores the annotations).
//
//   Mutex mu_;
//   int count_ TVD_GUARDED_BY(mu_);
//   void Bump() TVD_EXCLUDES(mu_) { MutexLock lock(mu_); ++count_; }
//   void BumpLocked() TVD_REQUIRES(mu_) { ++count_; }
//
// Waiting: CondVar::Wait releases the mutex while it waits. Write the
// condition as a loop in the caller (`while (!ready_) cv_.Wait(mu_);`), not
// as a predicate lambda: the analysis cannot see that a lambda runs with the
// lock held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define TVD_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define TVD_THREAD_ANNOTATION(x)
#endif

#define TVD_CAPABILITY(x) TVD_THREAD_ANNOTATION(capability(x))
#define TVD_SCOPED_CAPABILITY TVD_THREAD_ANNOTATION(scoped_lockable)
#define TVD_GUARDED_BY(x) TVD_THREAD_ANNOTATION(guarded_by(x))
#define TVD_PT_GUARDED_BY(x) TVD_THREAD_ANNOTATION(pt_guarded_by(x))
#define TVD_REQUIRES(...) \
  TVD_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define TVD_EXCLUDES(...) TVD_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define TVD_ACQUIRE(...) TVD_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define TVD_RELEASE(...) TVD_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TVD_RETURN_CAPABILITY(x) TVD_THREAD_ANNOTATION(lock_returned(x))
#define TVD_NO_THREAD_SAFETY_ANALYSIS \
  TVD_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace tvd {

class TVD_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() TVD_ACQUIRE() { mu_.lock(); }
  void Unlock() TVD_RELEASE() { mu_.unlock(); }
  // BasicLockable, for CondVar (std::condition_variable_any).
  void lock() TVD_ACQUIRE() { mu_.lock(); }
  void unlock() TVD_RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Holds `mu` for its scope.
class TVD_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) TVD_ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() TVD_RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

class CondVar {
 public:
  // Releases `mu` while waiting; holds it again on return (spurious
  // wake-ups happen: re-check the condition).
  void Wait(Mutex& mu) TVD_REQUIRES(mu) { cv_.wait(mu); }
  // As Wait, until `deadline`; false when it passed.
  template <typename Clock, typename Duration>
  bool WaitUntil(Mutex& mu,
                 const std::chrono::time_point<Clock, Duration>& deadline)
      TVD_REQUIRES(mu) {
    return cv_.wait_until(mu, deadline) == std::cv_status::no_timeout;
  }
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

 private:
  std::condition_variable_any cv_;
};

}  // namespace tvd
