// The Store contract (tvd/testing/store_contract.h) on the SQLite
// StateStore in a temporary file; a second master is a second connection
// to the same file.
#include "tvd/testing/store_contract.h"

#include <unistd.h>

#include <filesystem>

#include "tvd/master/store.h"

namespace tvd::testing {
namespace {

class SqliteContractStore : public ContractStore {
 public:
  static StatusOr<std::unique_ptr<ContractStore>> Make() {
    std::unique_ptr<SqliteContractStore> t(new SqliteContractStore());
    char tmpl[] = "/tmp/tvd-store-contract-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      return ErrnoError("mkdtemp", errno);
    }
    t->dir_ = tmpl;
    TVD_ASSIGN_OR_RETURN(t->store_, master::OpenSqliteStore(t->Path()));
    return std::unique_ptr<ContractStore>(std::move(t));
  }
  ~SqliteContractStore() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  master::Store& store() override { return *store_; }
  StatusOr<master::StorePtr> OpenAnother() override {
    return master::OpenSqliteStore(Path());
  }
  Status Reopen() override {
    store_.reset();
    TVD_ASSIGN_OR_RETURN(store_, master::OpenSqliteStore(Path()));
    return Status::Ok();
  }

 private:
  SqliteContractStore() = default;
  std::string Path() const { return dir_ + "/master.db"; }
  std::string dir_;
  master::StorePtr store_;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContract,
                         ::testing::Values(StoreTarget{
                             "sqlite", &SqliteContractStore::Make}),
                         StoreTargetName);

}  // namespace
}  // namespace tvd::testing
