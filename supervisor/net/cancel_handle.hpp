#pragma once

#include <memory>

namespace ccjail::net {

// An operation that a CancelHandle can end early.
class Cancellable {
  public:
    virtual ~Cancellable() = default;
    virtual void cancel() = 0;
};

// Observes one asynchronous operation without keeping it alive: dropping the handle does not
// cancel, and cancel() after the operation finished does nothing.
class CancelHandle {
  public:
    CancelHandle() = default;
    explicit CancelHandle(std::weak_ptr<Cancellable> operation)
        : operation_(std::move(operation)) {}

    void cancel() const {
        if (auto operation = operation_.lock()) {
            operation->cancel();
        }
    }

  private:
    std::weak_ptr<Cancellable> operation_;
};

}  // namespace ccjail::net
