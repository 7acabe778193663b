// Debian's XGBoost (libxgboost-dev): only the C API, which is plain C; the other headers in
// /usr/include/xgboost are C++.
#include <xgboost/c_api.h>
